namespace MindJourney.Api.Storage;

/// <summary>
/// Tells this instance's <see cref="DeliveryWorker"/> that deliveries are due now (a text answer just committed), so
/// it claims them at once instead of at its next poll. Wakes coalesce: many answers, one claim.
/// It also paces the texts' loop: an answer's object must not cost answers their speed, so while answers queue for
/// the database (their statements carry many at once) the loop takes only its share of the time, and it writes the
/// rest once the queue is gone. The answers themselves are durable from their 201; only their copies in storage wait.
/// </summary>
public sealed class DeliverySignal(TimeProvider? time = null)
{
    /// <summary>Statements older than this say nothing about the queue now.</summary>
    private static readonly TimeSpan QueueMemory = TimeSpan.FromSeconds(1);

    /// <summary>Weight of each statement in the moving mean of answers per statement (about the last 40).</summary>
    private const double StatementWeight = 0.05;

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly SemaphoreSlim _due = new(0, 1);
    private readonly Lock _gate = new();
    private double _answersPerStatement;
    private long _lastStatementAt;

    public void Wake()
    {
        if (_due.CurrentCount == 0)
        {
            try
            {
                _due.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another answer woke it meanwhile.
            }
        }
    }

    /// <summary>Waits for a wake or for <paramref name="idle"/>, whichever comes first.</summary>
    public Task WaitAsync(TimeSpan idle, CancellationToken cancellationToken) => _due.WaitAsync(idle, cancellationToken);

    /// <summary>An answer statement recorded (or tried) this many answers: the more answers wait together, the longer
    /// the queue before the database.</summary>
    public void AnswerStatementRan(int answers)
    {
        lock (_gate)
        {
            _answersPerStatement += (answers - _answersPerStatement) * StatementWeight;
            _lastStatementAt = _time.GetTimestamp();
        }
    }

    /// <summary>Whether answers queue now: statements ran within the last second carrying, on average, at least
    /// <see cref="StorageOptions.TextsGiveWayAtAnswersPerStatement"/> answers each.</summary>
    public bool AnswersQueue(StorageOptions settings)
    {
        lock (_gate)
        {
            return _lastStatementAt != 0 && _time.GetElapsedTime(_lastStatementAt) < QueueMemory
                && _answersPerStatement >= settings.TextsGiveWayAtAnswersPerStatement;
        }
    }

    /// <summary>How long the texts' loop rests after a round that took <paramref name="round"/>: none while answers
    /// flow freely; while they queue, long enough that the loop's rounds fill only
    /// <see cref="StorageOptions.TextDeliveryShareWhileAnswersQueue"/> of the time (at most a second at once, so a
    /// round still runs every second however slow storage is).</summary>
    public TimeSpan RestAfterTextRound(TimeSpan round, StorageOptions settings)
    {
        if (!AnswersQueue(settings))
        {
            return TimeSpan.Zero;
        }

        var share = settings.TextDeliveryShareWhileAnswersQueue;
        var rest = round * ((1 - share) / share);
        return rest < QueueMemory ? rest : QueueMemory;
    }
}
