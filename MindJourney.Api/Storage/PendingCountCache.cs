using Npgsql;
using OpenTelemetry;

namespace MindJourney.Api.Storage;

/// <summary>The last known number and bytes of pending uploads, for the <c>mindjourney.storage.pending</c> and
/// <c>mindjourney.storage.pending.bytes</c> gauges and the pending ceiling: every count of the outbox records them,
/// and a read older than a few seconds starts one recount in the background, so a scrape or an upload never waits for
/// (or floods) the database. Between counts, the bytes this instance adds are kept beside the count
/// (<see cref="AddLocal"/>), so the ceiling sees its own uploads at once.</summary>
public sealed class PendingCountCache
{
    /// <summary>How old a count may be before a read starts a new one.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(5);

    private long _count = -1; // unknown until first counted
    private long _bytes = -1;
    private long _localBytes;
    private long _countedAt;
    private int _refreshing;

    /// <summary>Bytes this instance added (or, negative, took back) since the count in progress began.</summary>
    internal long LocalBytes => Interlocked.Read(ref _localBytes);

    internal void AddLocal(long bytes) => Interlocked.Add(ref _localBytes, bytes);

    /// <summary>A count's result. <paramref name="localBytesBefore"/> is <see cref="LocalBytes"/> as it was when the
    /// count began: what it includes is now in <paramref name="bytes"/>. An upload that committed during the count
    /// may be counted twice until the next one: the ceiling errs on the safe side.</summary>
    internal void Record(long count, long bytes, long localBytesBefore)
    {
        Interlocked.Exchange(ref _count, count);
        Interlocked.Exchange(ref _bytes, bytes);
        Interlocked.Add(ref _localBytes, -localBytesBefore);
        Interlocked.Exchange(ref _countedAt, Environment.TickCount64);
    }

    /// <summary>The last counted pending bytes, null until first counted; starts a recount as <see cref="Read"/>.</summary>
    internal long? ReadBytes(Func<Task> recount)
    {
        _ = Read(recount);
        return Interlocked.Read(ref _bytes) is >= 0 and var known ? known : null;
    }

    /// <summary>The last known count, null until first known; starts <paramref name="recount"/> (which records its
    /// result) when the value is stale and no recount is running.</summary>
    internal long? Read(Func<Task> recount)
    {
        if (Environment.TickCount64 - Interlocked.Read(ref _countedAt) > Lifetime.TotalMilliseconds
            && Interlocked.Exchange(ref _refreshing, 1) == 0)
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    // Runs at every metrics export: not worth a trace each time.
                    using var untraced = SuppressInstrumentationScope.Begin();
                    await recount();
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
                {
                    // The gauge keeps the last value; the health check and the worker report the database.
                }
                finally
                {
                    Interlocked.Exchange(ref _countedAt, Environment.TickCount64);
                    Volatile.Write(ref _refreshing, 0);
                }
            });
        }

        return Interlocked.Read(ref _count) is >= 0 and var known ? known : null;
    }
}
