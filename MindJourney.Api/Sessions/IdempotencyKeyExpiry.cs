using Npgsql;
using OpenTelemetry;

namespace MindJourney.Api.Sessions;

/// <summary>Forgets Idempotency-Keys older than their lifetime, Plays' and answers' alike, in small batches, on every
/// replica (the update is idempotent, so replicas need not coordinate). A replay is a retry of a click or of an answer
/// sent: minutes, never days.</summary>
public sealed partial class IdempotencyKeyExpiry(
    NpgsqlDataSource dataSource,
    Microsoft.Extensions.Options.IOptions<IdempotencyOptions> options,
    ILogger<IdempotencyKeyExpiry> logger) : BackgroundService
{
    private const int BatchSize = 5000;

    private const string ForgetSql = """
        UPDATE experiment_sessions SET idempotency_key = NULL, idempotency_fingerprint = NULL
        WHERE id IN (SELECT id FROM experiment_sessions
                     WHERE idempotency_key IS NOT NULL AND created_at < now() - $1
                     LIMIT $2 FOR UPDATE SKIP LOCKED)
        """;

    // Found through the key's partial index, which holds only answers that still have a key.
    private const string ForgetAnswersSql = """
        UPDATE experiment_responses SET idempotency_key = NULL, idempotency_fingerprint = NULL
        WHERE id IN (SELECT id FROM experiment_responses
                     WHERE idempotency_key IS NOT NULL AND created_at < now() - $1
                     LIMIT $2 FOR UPDATE SKIP LOCKED)
        """;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var lifetime = TimeSpan.FromHours(options.Value.KeyLifetimeHours);
        var interval = TimeSpan.FromSeconds(options.Value.PruneIntervalSeconds);
        using var timer = new PeriodicTimer(interval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                using var untraced = SuppressInstrumentationScope.Begin(); // housekeeping, not worth a trace each time
                foreach (var sql in (string[])[ForgetSql, ForgetAnswersSql])
                {
                    int forgotten;
                    do
                    {
                        await using var command = dataSource.CreateCommand(sql);
                        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = lifetime });
                        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = BatchSize });
                        forgotten = await command.ExecuteNonQueryAsync(stoppingToken);
                    }
                    while (forgotten == BatchSize);
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                LogFailed(logger, ex.GetType().Name); // the next round tries again
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Forgetting expired Idempotency-Keys failed ({Error}); retrying next round")]
    private static partial void LogFailed(ILogger logger, string error);
}
