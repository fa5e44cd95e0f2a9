namespace MindJourney.Testing;

/// <summary>
/// A TCP relay between an API and the storage emulator that a test can stall: after <see cref="HoldAfter"/>, the bytes
/// sent towards storage stop moving once that many have passed (storage that goes quiet in the middle of an upload)
/// until <see cref="Release"/>. Answers from storage are never held.
/// </summary>
public sealed class StorageRelay : TcpRelay
{
    private TaskCompletionSource _gate = OpenGate();
    private long _holdAfter = -1;
    private long _toStorage;

    private StorageRelay(int targetPort)
        : base(targetPort, bufferBytes: 16 * 1024)
    {
    }

    /// <summary>What an API host sets as <c>STORAGE_EMULATOR_HOST</c> to reach storage through the relay.</summary>
    public string HostAndPort => $"127.0.0.1:{Port}";

    /// <summary>Bytes passed on towards storage so far.</summary>
    public long BytesToStorage => Interlocked.Read(ref _toStorage);

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

    protected override Task BeforeWriteAsync(bool towardsServer, int bytes) =>
        towardsServer && Interlocked.Read(ref _holdAfter) is >= 0 and var limit && BytesToStorage >= limit
            ? Volatile.Read(ref _gate).Task.WaitAsync(Stopping)
            : Task.CompletedTask;

    protected override void Written(bool towardsServer, int bytes)
    {
        if (towardsServer)
        {
            Interlocked.Add(ref _toStorage, bytes);
        }
    }
}
