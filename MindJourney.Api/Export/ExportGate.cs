namespace MindJourney.Api.Export;

/// <summary>One export at a time per replica: each holds a connection of the bulk pool while it reads its rows, and
/// two would leave participants' uploads none. A singleton, so each host (and each test host) has its own.</summary>
public sealed class ExportGate : IDisposable
{
    private readonly SemaphoreSlim _running = new(1, 1);

    /// <summary>True when no other export runs; the caller must then <see cref="Leave"/> when it ends.</summary>
    public bool TryEnter() => _running.Wait(0);

    public void Leave() => _running.Release();

    public void Dispose() => _running.Dispose();
}
