namespace MindJourney.Api.Storage;

/// <summary>Tells this instance's <see cref="DeliveryWorker"/> that deliveries are due now (a text answer just
/// committed), so it claims them at once instead of at its next poll. Wakes coalesce: many answers, one claim.</summary>
public sealed class DeliverySignal
{
    private readonly SemaphoreSlim _due = new(0, 1);

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
}
