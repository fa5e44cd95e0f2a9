using Npgsql;
using OpenTelemetry;

namespace MindJourney.Api.Storage;

/// <summary>The last known number of pending uploads, for the <c>mindjourney.storage.pending</c> gauge: every count
/// of the outbox records it, and a read older than a few seconds starts one recount in the background, so a scrape
/// never waits for (or floods) the database.</summary>
public sealed class PendingCountCache
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(5);

    private long _count = -1; // unknown until first counted
    private long _countedAt;
    private int _refreshing;

    internal void Record(long count)
    {
        Interlocked.Exchange(ref _count, count);
        Interlocked.Exchange(ref _countedAt, Environment.TickCount64);
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
