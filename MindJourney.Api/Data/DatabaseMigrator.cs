using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql;
using Polly;
using Polly.Retry;

namespace MindJourney.Api.Data;

internal static class DatabaseMigrator
{
    // Any fixed 64-bit key; every replica takes the same lock, so only one applies migrations at a time.
    private const long MigrationLockKey = 0x4D4A_4D49_4752_4154; // "MJMIGRAT"
    private static readonly TimeSpan StartupDeadline = TimeSpan.FromSeconds(60);

    /// <summary>Applies EF Core migrations before the API takes traffic. Replicas that start together queue on a
    /// PostgreSQL advisory lock (EF's own migration lock does not cover the first creation of its history
    /// table), and a database that is still starting is retried until the deadline.</summary>
    public static async Task MigrateDatabaseAsync(this WebApplication app, CancellationToken cancellationToken = default)
    {
        var loggerFactory = app.Services.GetRequiredService<ILoggerFactory>();
        var dataSource = app.Services.GetRequiredService<NpgsqlDataSource>();
        var deadline = DateTime.UtcNow + StartupDeadline;

        // Polly logs and meters each retry (resilience events); only a database that is still starting is retried.
        var retry = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is NpgsqlException { IsTransient: true } && DateTime.UtcNow < deadline),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Linear,
                Delay = TimeSpan.FromSeconds(1),
                MaxDelay = TimeSpan.FromSeconds(5),
            })
            .ConfigureTelemetry(loggerFactory)
            .Build();

        await retry.ExecuteAsync(async token =>
        {
            await using var lockConnection = await dataSource.OpenConnectionAsync(token);
            await lockConnection.ExecuteAsync($"SELECT pg_advisory_lock({MigrationLockKey})", null, token);
            try
            {
                await using var scope = app.Services.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<MindJourneyDbContext>();
                // Without its history table EF Core finds out by running a query that fails, logged as an error on
                // a fresh database's first start; creating the table first (IF NOT EXISTS) keeps that start clean.
                await db.GetService<IHistoryRepository>().CreateIfNotExistsAsync(token);
                var pending = (await db.Database.GetPendingMigrationsAsync(token)).ToList();
                if (pending.Count > 0)
                {
                    loggerFactory.CreateLogger(typeof(DatabaseMigrator))
                        .LogInformation("Applying {Count} database migration(s): {Migrations}", pending.Count, string.Join(", ", pending));
                    await db.Database.MigrateAsync(token);
                }
            }
            finally
            {
                // Closing a pooled connection keeps its PostgreSQL session (and the lock) alive: unlock explicitly.
                await lockConnection.ExecuteAsync($"SELECT pg_advisory_unlock({MigrationLockKey})", null, CancellationToken.None);
            }
        }, cancellationToken);
    }
}
