using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using MindJourney.Api.Data;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Storage;
using Npgsql;

namespace MindJourney.Api.Admin;

/// <summary>The numbering check's status and reason, for the admin (the AppHost shows them on the API in the
/// dashboard): /health tells anyone with the link only the status, and the reason names sessions and responses.</summary>
public sealed record NumberingHealthReport(string Status, string? Reason);

/// <summary>
/// The audit's alarms, cut down to what a probe can afford on a large study: among the newest numbers (those being
/// handed out now, <see cref="NumberingHealthOptions.RecentNumbers"/>), a session whose number is not its user's (told
/// apart as a number held twice when another user holds it) and a response whose number is not its session's; and an
/// upload pending too long (the outbox holds only pending uploads). Each stops at its first finding and walks indexes
/// only; older numbers are the full audit's work. Never Unhealthy: the API still numbers visitors, so it reports
/// Degraded (HTTP 200) with the reason, and logs each change so the dashboard's logs say why.
/// </summary>
public sealed partial class NumberingHealthCheck(NpgsqlDataSource dataSource, IOptions<NumberingHealthOptions> options,
    PendingBytesCeiling pendingBytes, DatabaseDeadline deadline, ILogger<NumberingHealthCheck> logger) : IHealthCheck
{
    public const string Name = "visitor-numbering";

    private static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(10);

    // One instance for every call: the cached HealthCheckService keeps one report per predicate.
    private static readonly Func<HealthCheckRegistration, bool> OnlyThis = registration => registration.Name == Name;

    private const string PositionSql = MindJourneyDbContext.VisitorNumberPositionSql;

    // $2 is the lowest number looked at, sent as a value (not a subquery) so the planner sees how few rows it selects
    // and walks the indexes: the newest numbers through users' unique index and sessions' number index, then
    // sessions by user, users by id and responses by session. Live only: pilot numbers come from their own sequence.
    internal const string LookSql = """
        SELECT stray.id, stray.visitor_number,
               EXISTS (SELECT 1 FROM users WHERE mode = 'live' AND visitor_number = stray.visitor_number AND id <> stray.user_id),
               (SELECT r.id FROM experiment_sessions s JOIN experiment_responses r ON r.session_id = s.id
                WHERE s.visitor_number >= $2 AND s.mode = 'live' AND r.visitor_number IS DISTINCT FROM s.visitor_number
                LIMIT 1),
               (SELECT min(created_at) FROM storage_deliveries WHERE created_at < now() - $1)
        FROM (SELECT 1) one
        LEFT JOIN LATERAL (
            (SELECT s.id, s.visitor_number, s.user_id
             FROM experiment_sessions s LEFT JOIN users u ON u.id = s.user_id
             WHERE s.visitor_number >= $2 AND s.mode = 'live' AND s.visitor_number IS DISTINCT FROM u.visitor_number
             LIMIT 1)
            UNION ALL
            (SELECT s.id, s.visitor_number, s.user_id
             FROM users u JOIN experiment_sessions s ON s.user_id = u.id
             WHERE u.mode = 'live' AND u.visitor_number >= $2 AND s.visitor_number IS DISTINCT FROM u.visitor_number
             LIMIT 1)
            LIMIT 1
        ) stray ON true
        """;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private HealthCheckResult? _last;
    private Task<HealthCheckResult>? _looking;
    private long _lastAt;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var interval = TimeSpan.FromSeconds(options.Value.CheckIntervalSeconds).TotalMilliseconds;
        if (_last is { } cached && Environment.TickCount64 - _lastAt < interval)
        {
            return cached;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_last is { } fresh && Environment.TickCount64 - _lastAt < interval)
            {
                return fresh;
            }

            // One look at a time, waited for at most the deadline: behind a silent network a look waits as long as the
            // silence lasts (its cancellation too), and /health must still answer (the database check says why).
            if (_looking is not { IsCompleted: false })
            {
                _looking = LookAsync(CancellationToken.None);
            }

            HealthCheckResult result;
            try
            {
                result = await _looking.WaitAsync(deadline.Limit, cancellationToken);
            }
            catch (TimeoutException)
            {
                result = HealthCheckResult.Degraded("The numbering check's query has not answered in time.");
            }

            if (result.Status != _last?.Status || result.Description != _last?.Description)
            {
                if (result.Status == HealthStatus.Healthy)
                {
                    LogSound(logger);
                }
                else
                {
                    LogDegraded(logger, result.Description!);
                }
            }

            _last = result;
            _lastAt = Environment.TickCount64;
            return result;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>This check's entry as /health last computed it (at most a second old), failures included.</summary>
    public static async Task<NumberingHealthReport> ReportAsync(HealthCheckService health, CancellationToken cancellationToken)
    {
        var entry = (await health.CheckHealthAsync(OnlyThis, cancellationToken)).Entries[Name];
        return new NumberingHealthReport(entry.Status.ToString(), entry.Description);
    }

    private async Task<HealthCheckResult> LookAsync(CancellationToken cancellationToken)
    {
        var maxAge = TimeSpan.FromMinutes(options.Value.PendingUploadMaxAgeMinutes);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var position = new NpgsqlCommand(PositionSql, connection);
        var lowest = (long)(await position.ExecuteScalarAsync(cancellationToken))! - options.Value.RecentNumbers + 1;
        await using var command = new NpgsqlCommand(LookSql, connection);
        command.CommandTimeout = (int)QueryTimeout.TotalSeconds;
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = maxAge });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = (int)Math.Clamp(lowest, int.MinValue, int.MaxValue) });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);

        var reasons = new List<string>();
        if (!reader.IsDBNull(0))
        {
            reasons.Add(reader.GetBoolean(2)
                ? $"Visitor number {reader.GetInt32(1)} is held twice: session {reader.GetGuid(0)} carries it, and so does another user."
                : $"Session {reader.GetGuid(0)} carries a visitor number its user does not hold.");
        }

        if (!reader.IsDBNull(3))
        {
            reasons.Add($"Response {reader.GetGuid(3)} carries a visitor number other than its session's.");
        }

        if (!reader.IsDBNull(4))
        {
            reasons.Add(FormattableString.Invariant(
                $"Uploads pending for more than {maxAge.TotalMinutes:0.#} minutes (the oldest since {reader.GetDateTime(4):u})."));
        }

        await reader.DisposeAsync();
        // Near the ceiling, uploads will soon answer 507: time to look at storage before participants are refused.
        var (pending, ceiling) = (await pendingBytes.TotalAsync(cancellationToken), pendingBytes.Max);
        if (pending >= ceiling * PendingBytesCeiling.WarningShare)
        {
            var share = 100.0 * pending / ceiling;
            reasons.Add(FormattableString.Invariant(
                $"Pending uploads hold {pending} bytes, {share:0} % of MindJourney:Storage:MaxPendingBytes ({ceiling}): ")
                + "past it uploads are refused with 507.");
        }

        return reasons.Count == 0
            ? HealthCheckResult.Healthy(
                "No number held twice, no mismatch, no upload pending too long, pending bytes well below their ceiling.")
            : HealthCheckResult.Degraded(string.Join(" ", reasons) + " Run the admin audit for the full picture.");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "⚠️ Visitor numbering degraded: {Reason}")]
    private static partial void LogDegraded(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "✅ Visitor numbering sound again")]
    private static partial void LogSound(ILogger logger);
}
