namespace MindJourney.Testing;

/// <summary>
/// A TCP relay between API hosts and PostgreSQL that a test can partition as <c>MindJourney.LoadTests
/// partition-proxy</c> does: after <see cref="Partition"/> no byte moves in either direction and a new connection is
/// accepted but not forwarded, so both sides see an open, silent connection (no RST, no FIN), as behind a dead switch;
/// <see cref="Heal"/> lets what was held move on.
/// </summary>
public sealed class PostgresRelay : TcpRelay
{
    private TaskCompletionSource _open = OpenGate();

    private PostgresRelay(int targetPort)
        : base(targetPort, bufferBytes: 64 * 1024)
    {
    }

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

    // Each chunk waits for the relay to be open before it is read and before it is written, so a partition holds what
    // is in flight.
    protected override Task BeforeConnectAsync() => WaitOpenAsync();

    protected override Task BeforeReadAsync(bool towardsServer) => WaitOpenAsync();

    protected override Task BeforeWriteAsync(bool towardsServer, int bytes) => WaitOpenAsync();

    protected override void OnStopping() => Heal();

    private Task WaitOpenAsync() => Volatile.Read(ref _open).Task.WaitAsync(Stopping);
}
