using System.Diagnostics;
using System.Net;
using Google;
using Microsoft.Extensions.Options;
using MindJourney.Api.Telemetry;
using Npgsql;
using StorageObject = Google.Apis.Storage.v1.Data.Object;

namespace MindJourney.Api.Storage;

/// <summary>What one sweep found: objects listed in its days' folders, orphans among them (old enough, named by no
/// answer and no pending delivery) and those it deleted (none on a dry run; one gone meanwhile is not counted).</summary>
public sealed record OrphanSweepResult(int Listed, int Orphans, int Deleted, int Days, bool DryRun);

/// <summary>
/// Deletes the objects no answer holds. An upload writes its object first and its row after; an API killed (or a
/// database that failed) in between leaves an object outside every export and every withdrawal's erasure, as does a
/// refused upload or a withdrawal whose delete failed. Every <see cref="StorageOptions.OrphanSweepInterval"/> (and on
/// an operator's demand, <see cref="OrphanSweepApi"/>), it lists the folders of the last days, a page at a time,
/// asks the database once per page which names no <c>experiment_responses.file_id</c> and no
/// <c>storage_deliveries.object_name</c> holds, and deletes those older than <see cref="StorageOptions.OrphanGrace"/>
/// (an upload still between its object and its row is younger), each by the generation it listed, so a write that
/// lands meanwhile stays. One instance sweeps at a time: a session-level advisory lock, held on one connection for
/// the round (a transaction open that long would hold back vacuum for nothing: the round writes nothing).
/// </summary>
public sealed partial class OrphanObjectSweep(
    ResponseStorage storage,
    NpgsqlDataSource dataSource,
    IOptions<StorageOptions> options,
    StorageTelemetry telemetry,
    ILogger<OrphanObjectSweep> logger) : BackgroundService
{
    /// <summary>The advisory lock of a round, across replicas ("MJORPHAN").</summary>
    public const long LockKey = 0x4D4A_4F52_5048_414E;

    /// <summary>Names per listing page and per database check (storage's largest page).</summary>
    private const int PageSize = 1000;

    // The names of the page an answer or a pending delivery holds, in one round trip (file_id's unique index answers
    // the first; the outbox is small: what storage has not taken yet).
    private const string HeldNamesSql = """
        SELECT file_id FROM experiment_responses WHERE file_id = ANY($1)
        UNION
        SELECT object_name FROM storage_deliveries WHERE object_name = ANY($1)
        """;

    public bool IsConfigured => storage.IsConfigured;

    /// <summary>One round over the last <paramref name="days"/> UTC days (today first); deletes nothing when
    /// <paramref name="dryRun"/>. Null when another instance is sweeping now.</summary>
    public async Task<OrphanSweepResult?> SweepAsync(int days, bool dryRun, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(days, 1);
        if (!storage.IsConfigured)
        {
            throw new InvalidOperationException("No storage is configured.");
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (!await TryLockAsync(connection, cancellationToken))
        {
            LogAlreadySweeping(logger);
            return null;
        }

        using var activity = StorageTelemetry.ActivitySource.StartActivity(StorageTelemetry.OrphanSweepActivity);
        activity?.SetTag(StorageTelemetry.SweepDaysTag, days);
        activity?.SetTag(StorageTelemetry.SweepDryRunTag, dryRun);
        try
        {
            var result = await SweepLockedAsync(connection, days, dryRun, cancellationToken);
            activity?.SetTag(StorageTelemetry.SweepListedTag, result.Listed);
            activity?.SetTag(StorageTelemetry.SweepOrphansTag, result.Orphans);
            activity?.SetTag(StorageTelemetry.SweepDeletedTag, result.Deleted);
            LogRound(logger, days, dryRun, result.Listed, result.Orphans, result.Deleted);
            return result;
        }
        catch (Exception ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            throw;
        }
        finally
        {
            await UnlockAsync(connection);
        }
    }

    private async Task<OrphanSweepResult> SweepLockedAsync(NpgsqlConnection connection, int days, bool dryRun,
        CancellationToken cancellationToken)
    {
        var grace = options.Value.OrphanGrace;
        var today = DateTimeOffset.UtcNow;
        var (listed, orphans, deleted) = (0, 0, 0);
        for (var back = 0; back < days; back++)
        {
            var folder = ObjectNames.DayFolder(today.AddDays(-back));
            await foreach (var page in storage.ListPagesAsync(folder, PageSize, cancellationToken))
            {
                listed += page.Count;
                // Age first (no database work for a page of fresh uploads); the clock is read after the listing, so an
                // object is at least as old as it is taken to be.
                var now = DateTimeOffset.UtcNow;
                var old = page.Where(o => o.TimeCreatedDateTimeOffset is { } created && now - created >= grace).ToList();
                if (old.Count == 0)
                {
                    continue;
                }

                var held = await HeldAsync(connection, old, cancellationToken);
                foreach (var orphan in old.Where(o => !held.Contains(o.Name)))
                {
                    orphans++;
                    if (dryRun)
                    {
                        LogOrphanKept(logger, orphan.Name);
                    }
                    else if (await DeleteAsync(orphan, cancellationToken))
                    {
                        deleted++;
                        telemetry.OrphansDeleted.Add(1);
                        LogDeleted(logger, orphan.Name, orphan.Generation ?? 0);
                    }
                }
            }
        }

        return new OrphanSweepResult(listed, orphans, deleted, days, dryRun);
    }

    private static async Task<HashSet<string>> HeldAsync(NpgsqlConnection connection, List<StorageObject> objects,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(HeldNamesSql, connection);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. objects.Select(o => o.Name)] });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var held = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            held.Add(reader.GetString(0));
        }

        return held;
    }

    /// <summary>False when that generation is gone already (another sweep, a refused upload's own delete, a withdrawal)
    /// or was replaced: nothing else is deleted.</summary>
    private async Task<bool> DeleteAsync(StorageObject orphan, CancellationToken cancellationToken)
    {
        try
        {
            await storage.DeleteAsync(orphan, cancellationToken);
            return true;
        }
        catch (GoogleApiException ex) when (ex.HttpStatusCode is HttpStatusCode.NotFound or HttpStatusCode.PreconditionFailed)
        {
            return false;
        }
    }

    private static async Task<bool> TryLockAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock($1)", connection);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = LockKey });
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    /// <summary>Not the round's token: a cancelled round still gives the lock back before its connection returns to
    /// the pool (a broken connection takes the lock with it).</summary>
    private async Task UnlockAsync(NpgsqlConnection connection)
    {
        try
        {
            await using var command = new NpgsqlCommand("SELECT pg_advisory_unlock($1)", connection);
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = LockKey });
            await command.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            LogUnlockFailed(logger, ex.GetType().Name);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!storage.IsConfigured)
        {
            LogNoStorage(logger);
            return;
        }

        var settings = options.Value;
        LogStarted(logger, settings.OrphanSweepInterval, settings.OrphanSweepDays, settings.OrphanGrace);
        // The first round after one interval, not at start: replicas restarted together do not all sweep at once.
        using var timer = new PeriodicTimer(settings.OrphanSweepInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await SweepAsync(settings.OrphanSweepDays, dryRun: false, stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // Never let the sweep stop the host: the next round tries again.
                    LogRoundFailed(logger, ex.GetType().Name, ex.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Orphan object sweep every {Interval} over the last {Days} days, for objects older than {Grace}")]
    private static partial void LogStarted(ILogger logger, TimeSpan interval, int days, TimeSpan grace);

    [LoggerMessage(Level = LogLevel.Information, Message = "Orphan object sweep off: no storage is configured")]
    private static partial void LogNoStorage(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Another instance is sweeping orphan objects; this round is skipped")]
    private static partial void LogAlreadySweeping(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Deleted orphan object {ObjectName} (generation {Generation}): no answer names it")]
    private static partial void LogDeleted(ILogger logger, string objectName, long generation);

    [LoggerMessage(Level = LogLevel.Information, Message = "Orphan object {ObjectName}: kept (dry run)")]
    private static partial void LogOrphanKept(ILogger logger, string objectName);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Orphan object sweep over {Days} days (dry run: {DryRun}): {Listed} listed, {Orphans} orphans, {Deleted} deleted")]
    private static partial void LogRound(ILogger logger, int days, bool dryRun, int listed, int orphans, int deleted);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Orphan object sweep failed ({Error}: {Message}); the next round tries again")]
    private static partial void LogRoundFailed(ILogger logger, string error, string message);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Could not release the orphan sweep's lock ({Error}); it goes with its connection")]
    private static partial void LogUnlockFailed(ILogger logger, string error);
}
