using System.Buffers;

namespace MindJourney.LoadTests.Runner;

/// <summary>
/// Per-worker state reused across requests: a timeout source (reset, not reallocated, after each request) linked to
/// the run's hard stop, and a scratch buffer for request bodies.
/// </summary>
internal sealed class VirtualUser : IDisposable
{
    private readonly CancellationToken _hardStop;
    private CancellationTokenSource _timeout;

    public VirtualUser(int id, CancellationToken hardStop)
    {
        Id = id;
        _hardStop = hardStop;
        _timeout = CancellationTokenSource.CreateLinkedTokenSource(hardStop);
    }

    public int Id { get; }

    public ArrayBufferWriter<byte> Scratch { get; } = new(1024);

    public CancellationToken BeginRequest(TimeSpan timeout)
    {
        _timeout.CancelAfter(timeout);
        return _timeout.Token;
    }

    public void EndRequest()
    {
        if (!_timeout.TryReset())
        {
            _timeout.Dispose();
            _timeout = CancellationTokenSource.CreateLinkedTokenSource(_hardStop);
        }
    }

    public void Dispose() => _timeout.Dispose();
}
