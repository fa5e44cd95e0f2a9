using System.Net;
using System.Net.Sockets;

namespace MindJourney.Testing;

/// <summary>
/// A TCP relay between an API and the storage emulator, on a free loopback port, that a test can stall: after
/// <see cref="HoldAfter"/>, the bytes sent towards storage stop moving once that many have passed (storage that goes
/// quiet in the middle of an upload) until <see cref="Release"/>. Answers from storage are never held.
/// </summary>
public sealed class StorageRelay : IAsyncDisposable
{
    private const int BufferBytes = 16 * 1024;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly int _targetPort;
    private readonly Task _accepting;
    private TaskCompletionSource _gate = Opened();
    private long _holdAfter = -1;
    private long _toStorage;
    private int _connections;

    private StorageRelay(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>What an API host sets as <c>STORAGE_EMULATOR_HOST</c> to reach storage through the relay.</summary>
    public string HostAndPort => $"127.0.0.1:{Port}";

    /// <summary>Bytes passed on towards storage so far.</summary>
    public long BytesToStorage => Interlocked.Read(ref _toStorage);

    /// <summary>Connections open through the relay.</summary>
    public int Connections => Volatile.Read(ref _connections);

    public static StorageRelay To(TestStorage storage) => new(storage.Port);

    /// <summary>From now on, bytes towards storage stop once <see cref="BytesToStorage"/> reaches
    /// <paramref name="bytes"/> (0: at once).</summary>
    public void HoldAfter(long bytes)
    {
        Volatile.Write(ref _gate, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        Interlocked.Exchange(ref _holdAfter, bytes);
    }

    /// <summary>Lets everything held move again.</summary>
    public void Release()
    {
        Interlocked.Exchange(ref _holdAfter, -1);
        Volatile.Read(ref _gate).TrySetResult();
    }

    private static TaskCompletionSource Opened()
    {
        var opened = new TaskCompletionSource();
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
        Interlocked.Increment(ref _connections);
        using var upstream = new TcpClient();
        try
        {
            using (client)
            {
                await upstream.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
                var up = PumpAsync(client.GetStream(), upstream.GetStream(), towardsStorage: true);
                var down = PumpAsync(upstream.GetStream(), client.GetStream(), towardsStorage: false);
                await Task.WhenAny(up, down); // either side closing ends the relayed connection, as a dead peer would
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A side went away.
        }
        finally
        {
            Interlocked.Decrement(ref _connections);
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool towardsStorage)
    {
        var buffer = new byte[BufferBytes];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, _stop.Token)) > 0)
            {
                if (towardsStorage && Interlocked.Read(ref _holdAfter) is >= 0 and var limit && BytesToStorage >= limit)
                {
                    await Volatile.Read(ref _gate).Task.WaitAsync(_stop.Token);
                }

                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
                if (towardsStorage)
                {
                    Interlocked.Add(ref _toStorage, read);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A side went away.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
