using System.Net;
using System.Net.Sockets;

namespace MindJourney.Testing;

/// <summary>
/// A TCP relay between API hosts and PostgreSQL, on a free loopback port, that a test can partition as
/// <c>MindJourney.LoadTests partition-proxy</c> does: after <see cref="Partition"/> no byte moves in either direction
/// and a new connection is accepted but not forwarded, so both sides see an open, silent connection (no RST, no FIN),
/// as behind a dead switch; <see cref="Heal"/> lets what was held move on.
/// </summary>
public sealed class PostgresRelay : IAsyncDisposable
{
    private const int BufferBytes = 64 * 1024;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly int _targetPort;
    private readonly Task _accepting;
    private TaskCompletionSource _open = Opened();

    private PostgresRelay(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    /// <summary>What the hosts' connection string names instead of the server's port.</summary>
    public int Port { get; }

    public static PostgresRelay To(PostgresServer server) => new(server.Port);

    /// <summary>From now on nothing moves, and nothing is closed.</summary>
    public void Partition()
    {
        if (Volatile.Read(ref _open).Task.IsCompleted)
        {
            Volatile.Write(ref _open, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }
    }

    /// <summary>What was held moves on, as TCP's retransmissions would deliver it.</summary>
    public void Heal() => Volatile.Read(ref _open).TrySetResult();

    private Task WaitOpenAsync() => Volatile.Read(ref _open).Task.WaitAsync(_stop.Token);

    private static TaskCompletionSource Opened()
    {
        var opened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        opened.SetResult();
        return opened;
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = RelayAsync(client);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using var upstream = new TcpClient();
        try
        {
            using (client)
            {
                await WaitOpenAsync();
                await upstream.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
                var up = PumpAsync(client.GetStream(), upstream.GetStream());
                var down = PumpAsync(upstream.GetStream(), client.GetStream());
                await Task.WhenAny(up, down);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A side went away, or the relay stopped.
        }
    }

    /// <summary>One direction; each chunk waits for the relay to be open before it is read and before it is written,
    /// so a partition holds what is in flight.</summary>
    private async Task PumpAsync(NetworkStream from, NetworkStream to)
    {
        var buffer = new byte[BufferBytes];
        try
        {
            while (true)
            {
                await WaitOpenAsync();
                var read = await from.ReadAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    return;
                }

                await WaitOpenAsync();
                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A side went away, or the relay stopped.
        }
    }

    public async ValueTask DisposeAsync()
    {
        Heal();
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
