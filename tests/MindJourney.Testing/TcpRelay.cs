using System.Net;
using System.Net.Sockets;

namespace MindJourney.Testing;

/// <summary>
/// A TCP relay on a free loopback port to a server on this machine, whose subclasses decide when bytes move: how a test
/// stalls or partitions a real connection without touching either end. Each relayed connection ends when either side
/// closes, as with a dead peer.
/// </summary>
public abstract class TcpRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly int _targetPort;
    private readonly int _bufferBytes;
    private readonly Task _accepting;
    private int _connections;

    protected TcpRelay(int targetPort, int bufferBytes)
    {
        _targetPort = targetPort;
        _bufferBytes = bufferBytes;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    /// <summary>What a client names instead of the server's port.</summary>
    public int Port { get; }

    /// <summary>Connections open through the relay.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Cancelled when the relay stops: what a subclass waits on must end with it.</summary>
    protected CancellationToken Stopping => _stop.Token;

    /// <summary>Before a new connection is passed on to the server.</summary>
    protected virtual Task BeforeConnectAsync() => Task.CompletedTask;

    /// <summary>Before a chunk is read from one side (<paramref name="towardsServer"/>: the client's).</summary>
    protected virtual Task BeforeReadAsync(bool towardsServer) => Task.CompletedTask;

    /// <summary>Before a chunk of <paramref name="bytes"/>, read, is written on.</summary>
    protected virtual Task BeforeWriteAsync(bool towardsServer, int bytes) => Task.CompletedTask;

    /// <summary>A chunk was written on.</summary>
    protected virtual void Written(bool towardsServer, int bytes)
    {
    }

    /// <summary>A gate already open: what a subclass's held bytes wait on until it closes one.</summary>
    protected static TaskCompletionSource OpenGate()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }

    /// <summary>Before the relay stops: let held bytes go.</summary>
    protected virtual void OnStopping()
    {
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
                await BeforeConnectAsync();
                await upstream.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
                var up = PumpAsync(client.GetStream(), upstream.GetStream(), towardsServer: true);
                var down = PumpAsync(upstream.GetStream(), client.GetStream(), towardsServer: false);
                await Task.WhenAny(up, down);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A side went away, or the relay stopped.
        }
        finally
        {
            Interlocked.Decrement(ref _connections);
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool towardsServer)
    {
        var buffer = new byte[_bufferBytes];
        try
        {
            while (true)
            {
                await BeforeReadAsync(towardsServer);
                var read = await from.ReadAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    return;
                }

                await BeforeWriteAsync(towardsServer, read);
                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
                Written(towardsServer, read);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A side went away, or the relay stopped.
        }
    }

    public async ValueTask DisposeAsync()
    {
        OnStopping();
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
        GC.SuppressFinalize(this);
    }
}
