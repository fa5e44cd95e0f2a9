using System.Net;
using Google;
using Npgsql;
using NpgsqlTypes;
using OpenTelemetry;

namespace MindJourney.Api.Storage;

/// <summary>
/// Keeps the <c>visitorNumber</c> metadata of stored objects in line with their response rows: the admin recovery
/// patches the objects of the sessions it numbered, and the worker patches every object whose row says it carries
/// another number (<c>experiment_responses.object_visitor_number</c>), so a recovery that ran while storage was
/// down is completed later.
/// </summary>
public sealed partial class StoredObjectNumbers(
    ResponseStorage storage, NpgsqlDataSource dataSource, ILogger<StoredObjectNumbers> logger)
{
    /// <summary>
    /// Sets the <c>visitorNumber</c> metadata of a stored object (the other keys stay as they are), after the admin
    /// recovery back-filled the number of its response. True when the object now carries it. False when the object
    /// is not in storage yet (its delivery still pending reads the current number when it runs) or storage cannot
    /// be reached right now: the worker then patches it later.
    /// </summary>
    public async Task<bool> UpdateVisitorNumberAsync(string objectName, int visitorNumber, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(objectName);
        if (!storage.IsConfigured)
        {
            return false;
        }

        try
        {
            await storage.PatchVisitorNumberAsync(objectName, visitorNumber, cancellationToken);
        }
        catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
        catch (Exception ex) when (ResponseStorage.IsUnavailable(ex) && !cancellationToken.IsCancellationRequested)
        {
            LogPatchDeferred(logger, ex.GetType().Name);
            return false;
        }

        await using var command = dataSource.CreateCommand(
            "UPDATE experiment_responses SET object_visitor_number = $2 WHERE file_id = $1 AND storage_status = 'stored'");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = objectName });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = visitorNumber });
        await command.ExecuteNonQueryAsync(cancellationToken);
        return true;
    }

    /// <summary>Patches up to <paramref name="limit"/> stored objects whose metadata lags their response row (a
    /// recovery ran while storage was down, or raced a delivery); stops at the first sign of a storage outage.</summary>
    internal async Task RefreshStaleAsync(int limit, CancellationToken cancellationToken)
    {
        List<(Guid, string, int?)> stale;
        using (SuppressInstrumentationScope.Begin())
        {
            stale = await FindStaleAsync(limit, cancellationToken);
        }

        foreach (var (responseId, objectName, visitorNumber) in stale)
        {
            try
            {
                await storage.PatchVisitorNumberAsync(objectName, visitorNumber, cancellationToken);
            }
            catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.NotFound)
            {
                LogObjectMissing(logger, responseId);
            }
            catch (Exception ex) when (ResponseStorage.IsUnavailable(ex) && !cancellationToken.IsCancellationRequested)
            {
                return; // storage is down: next round
            }

            await SetObjectVisitorNumberAsync(responseId, visitorNumber, cancellationToken);
        }
    }

    private async Task<List<(Guid ResponseId, string ObjectName, int? VisitorNumber)>> FindStaleAsync(
        int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT id, file_id, visitor_number FROM experiment_responses
            WHERE storage_status = 'stored' AND visitor_number IS DISTINCT FROM object_visitor_number
            LIMIT $1
            """);
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var stale = new List<(Guid, string, int?)>();
        while (await reader.ReadAsync(cancellationToken))
        {
            stale.Add((reader.GetGuid(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetInt32(2)));
        }

        return stale;
    }

    private async Task SetObjectVisitorNumberAsync(Guid responseId, int? visitorNumber, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("UPDATE experiment_responses SET object_visitor_number = $2 WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = responseId });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = (object?)visitorNumber ?? DBNull.Value });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Could not update an object's visitor number now ({Error}); the storage worker will")]
    private static partial void LogPatchDeferred(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Error,
        Message = "Stored object of response {ResponseId} is missing from storage; its visitor number metadata cannot be updated")]
    private static partial void LogObjectMissing(ILogger logger, Guid responseId);
}
