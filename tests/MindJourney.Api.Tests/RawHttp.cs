using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MindJourney.Api.Tests;

/// <summary>HTTP/1.1 over a plain socket, for what HttpClient will not send: a request target spelled exactly as given
/// (HttpClient's Uri unescapes letters and removes dot segments), or a body that stops half-way.</summary>
internal static class RawHttp
{
    /// <summary>A connection to <paramref name="server"/>'s port on 127.0.0.1 from <paramref name="source"/>.</summary>
    public static async Task<Socket> ConnectAsync(Uri server, string source = "127.0.0.1")
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
        await socket.ConnectAsync(IPAddress.Loopback, server.Port);
        return socket;
    }

    /// <summary>The head of a request: its line, Host, the given headers and, with a body, its length.</summary>
    public static string Head(string method, string target, long? contentLength = null, params string[] headers)
    {
        var head = new StringBuilder($"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        foreach (var header in headers)
        {
            head.Append(header).Append("\r\n");
        }

        if (contentLength is { } length)
        {
            head.Append("Content-Length: ").Append(length).Append("\r\n");
        }

        return head.Append("\r\n").ToString();
    }

    /// <summary>Sends a whole request on a new connection and reads its answer.</summary>
    public static async Task<RawResponse> SendAsync(Uri server, string source, string method, string target, byte[]? body = null,
        params string[] headers)
    {
        using var socket = await ConnectAsync(server, source);
        await socket.SendAsync(Encoding.ASCII.GetBytes(Head(method, target, body?.Length, headers)));
        if (body is not null)
        {
            await socket.SendAsync(body);
        }

        return await ReadResponseAsync(socket, TimeSpan.FromSeconds(30));
    }

    /// <summary>Reads one answer (Content-Length or chunked); fails when none is complete within
    /// <paramref name="timeout"/>.</summary>
    public static async Task<RawResponse> ReadResponseAsync(Socket socket, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var received = new List<byte>();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            if (RawResponse.TryParse(received.ToArray()) is { } response)
            {
                return response;
            }

            int read;
            try
            {
                read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancel.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No complete answer within {timeout.TotalSeconds} s; got: "
                    + Encoding.ASCII.GetString(received.ToArray()));
            }

            if (read == 0)
            {
                throw new IOException("The server closed the connection before a complete answer; got: "
                    + Encoding.ASCII.GetString(received.ToArray()));
            }

            received.AddRange(buffer.AsSpan(0, read));
        }
    }
}

internal sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    public static RawResponse? TryParse(byte[] received)
    {
        var text = Encoding.UTF8.GetString(received);
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0)
        {
            return null;
        }

        var lines = text[..end].Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = lines.Skip(1).Select(l => l.Split(':', 2))
            .GroupBy(p => p[0].Trim(), StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => string.Join(", ", g.Select(p => p[1].Trim())), StringComparer.OrdinalIgnoreCase);
        var rest = text[(end + 4)..];
        if (headers.TryGetValue("Content-Length", out var length))
        {
            var size = int.Parse(length, System.Globalization.CultureInfo.InvariantCulture);
            return rest.Length >= size ? new RawResponse(status, headers, rest[..size]) : null;
        }

        if (!headers.TryGetValue("Transfer-Encoding", out var encoding) || !encoding.Contains("chunked", StringComparison.Ordinal))
        {
            return new RawResponse(status, headers, rest);
        }

        var body = new StringBuilder();
        var at = 0;
        while (true)
        {
            var lineEnd = rest.IndexOf("\r\n", at, StringComparison.Ordinal);
            if (lineEnd < 0)
            {
                return null;
            }

            var chunk = int.Parse(rest[at..lineEnd].Split(';')[0], System.Globalization.NumberStyles.HexNumber,
                System.Globalization.CultureInfo.InvariantCulture);
            if (chunk == 0)
            {
                return new RawResponse(status, headers, body.ToString());
            }

            if (rest.Length < lineEnd + 2 + chunk + 2)
            {
                return null;
            }

            body.Append(rest, lineEnd + 2, chunk);
            at = lineEnd + 2 + chunk + 2;
        }
    }
}

/// <summary>Multipart uploads whose bodies are still arriving: each holds one of its client's uploads-in-flight slots
/// until disposed. Their bodies trickle above Kestrel's minimum rate (240 B/s), so a slow machine does not see them cut.
/// </summary>
internal sealed class HeldUploads : IAsyncDisposable
{
    private readonly Uri _server;
    private readonly string _source;
    private readonly List<(string Target, Socket Socket)> _held = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _trickle;

    private HeldUploads(Uri server, string source)
    {
        (_server, _source) = (server, source);
        _trickle = Task.Run(async () =>
        {
            var bytes = new byte[1024];
            Array.Fill(bytes, (byte)'a');
            while (!_stop.IsCancellationRequested)
            {
                Socket[] sockets;
                lock (_held)
                {
                    sockets = _held.Select(h => h.Socket).ToArray();
                }

                foreach (var socket in sockets)
                {
                    try
                    {
                        await socket.SendAsync(bytes, _stop.Token);
                    }
                    catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                    {
                        // Answered (refused) and replaced, or let go.
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }

                try
                {
                    await Task.Delay(250, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        });
    }

    /// <summary>One upload per target, all from <paramref name="source"/>.</summary>
    public static async Task<HeldUploads> StartAsync(Uri server, string source, params string[] targets)
    {
        var uploads = new HeldUploads(server, source);
        foreach (var target in targets)
        {
            var socket = await uploads.OpenAsync(target);
            lock (uploads._held)
            {
                uploads._held.Add((target, socket));
            }
        }

        return uploads;
    }

    /// <summary>Starts again each upload the server has answered already: one that arrived while a probe of the test
    /// held a slot for a moment is refused, and must not be mistaken for one that holds its slot.</summary>
    public async Task ReplaceAnsweredAsync()
    {
        for (var i = 0; i < _held.Count; i++)
        {
            var (target, socket) = _held[i];
            if (socket.Poll(0, SelectMode.SelectRead))
            {
                var replacement = await OpenAsync(target);
                lock (_held)
                {
                    _held[i] = (target, replacement);
                }

                socket.Close();
            }
        }
    }

    private async Task<Socket> OpenAsync(string target)
    {
        var socket = await RawHttp.ConnectAsync(_server, _source);
        const string part = "--held\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
            + "Content-Type: image/png\r\n\r\nabc";
        await socket.SendAsync(Encoding.ASCII.GetBytes(
            RawHttp.Head("POST", target, 10_000_000, "Content-Type: multipart/form-data; boundary=held") + part));
        return socket;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _trickle;
        foreach (var (_, socket) in _held)
        {
            socket.Close();
        }

        _stop.Dispose();
    }
}
