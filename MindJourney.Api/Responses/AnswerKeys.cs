using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Sessions;

namespace MindJourney.Api.Responses;

/// <summary>
/// This instance's memory of answer Idempotency-Keys (their HMACs, never the keys as sent):
/// <list type="bullet">
/// <item>The keys in flight: a request with a key whose first request is still running here waits for it to end
/// (<see cref="EnterAsync"/>), then finds its answer stored and returns it. Two requests with one key are never
/// recorded at once, so they never share a statement.</item>
/// <item>The keys recorded within the rate window: their replays pass <c>response-recording</c> without being
/// counted again (<see cref="IsFreeReplay"/>), up to <see cref="FreeReplaysPerKey"/> each. Another replica does not
/// know them: a replay that reaches another replica is counted there (docs/SECURITY.md).</item>
/// </list>
/// </summary>
public sealed class AnswerKeys(IdempotencyKeyHasher hasher, IOptions<RateLimitOptions> rateLimits)
{
    /// <summary>Replays of one key within a window that are not counted; a client replaying more is counted.</summary>
    public const int FreeReplaysPerKey = 8;

    /// <summary>Keys remembered for the rate window at most (about 100 bytes each); past it, new keys' replays are
    /// counted like any request until older keys leave the window.</summary>
    public const int MaxRemembered = 200_000;

    private readonly ConcurrentDictionary<(Guid Session, string Key), TaskCompletionSource> _inFlight = new();
    private readonly ConcurrentDictionary<string, Recorded> _recorded = new(StringComparer.Ordinal);
    private long _nextSweep;

    public string Hash(string idempotencyKey) => hasher.Hash(idempotencyKey);

    /// <summary>Waits until no other request of this instance holds (session, key), then holds it until the returned
    /// turn is disposed.</summary>
    public async Task<IDisposable> EnterAsync(Guid sessionId, string keyHash, CancellationToken cancellationToken)
    {
        var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        while (true)
        {
            var holder = _inFlight.GetOrAdd((sessionId, keyHash), mine);
            if (holder == mine)
            {
                return new Turn(this, (sessionId, keyHash), mine);
            }

            await holder.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>The answer of this key is stored (first or replayed): its replays within the window are free.</summary>
    public void Remember(string keyHash)
    {
        if (rateLimits.Value.ResponsesPerWindow <= 0)
        {
            return; // no window to spare a replay from
        }

        var now = Environment.TickCount64;
        if (now >= Interlocked.Read(ref _nextSweep))
        {
            Interlocked.Exchange(ref _nextSweep, now + 1000);
            foreach (var (key, recorded) in _recorded)
            {
                if (recorded.Until <= now)
                {
                    _recorded.TryRemove(key, out _);
                }
            }
        }

        if (_recorded.Count < MaxRemembered)
        {
            _recorded.TryAdd(keyHash, new Recorded(now + (rateLimits.Value.WindowSeconds * 1000L)));
        }
    }

    /// <summary>Whether this request replays a key this instance recorded within the window, with free replays left
    /// (each call with a known key uses one).</summary>
    public bool IsFreeReplay(HttpContext http)
    {
        if (_recorded.IsEmpty || http.Request.Headers[SessionsApi.IdempotencyKeyHeader] is not { Count: 1 } values
            || values[0] is not { Length: >= IdempotencyKeyAttribute.MinLength and <= IdempotencyKeyAttribute.MaxLength } key)
        {
            return false;
        }

        return _recorded.TryGetValue(hasher.Hash(key), out var recorded) && recorded.Until > Environment.TickCount64
            && Interlocked.Decrement(ref recorded.FreeLeft) >= 0;
    }

    private sealed class Recorded(long until)
    {
        public long Until { get; } = until;

        public int FreeLeft = FreeReplaysPerKey;
    }

    private sealed class Turn(AnswerKeys keys, (Guid, string) key, TaskCompletionSource mine) : IDisposable
    {
        public void Dispose()
        {
            keys._inFlight.TryRemove(new KeyValuePair<(Guid, string), TaskCompletionSource>(key, mine));
            mine.TrySetResult();
        }
    }
}
