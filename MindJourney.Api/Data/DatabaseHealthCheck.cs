using System.Diagnostics;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MindJourney.Api.Infrastructure;
using Npgsql;

namespace MindJourney.Api.Data;

/// <summary>
/// Unhealthy while the database does not answer <c>SELECT 1</c> within the participants' deadline
/// (<see cref="DatabaseDeadline"/>): refused, or silent as behind a partition. In place of Aspire's check, whose
/// query a silent network holds for as long as the silence lasts (and /health with it). One probe at a time: a probe
/// that hangs keeps its connection until the network heals, and the next /health joins it instead of adding another.
/// </summary>
public sealed class DatabaseHealthCheck(NpgsqlDataSource dataSource, DatabaseDeadline deadline) : IHealthCheck
{
    public const string Name = "database";

    private readonly Lock _gate = new();
    private Task? _probe;
    private long _probeStartedAt;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        Task probe;
        long startedAt;
        lock (_gate)
        {
            if (_probe is not { IsCompleted: false })
            {
                _probeStartedAt = Stopwatch.GetTimestamp();
                _probe = ProbeAsync();
            }

            (probe, startedAt) = (_probe, _probeStartedAt);
        }

        var left = deadline.Limit - Stopwatch.GetElapsedTime(startedAt);
        try
        {
            await probe.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (TimeoutException)
        {
            return HealthCheckResult.Unhealthy(
                $"The database has not answered for {Stopwatch.GetElapsedTime(startedAt).TotalSeconds:0} s.");
        }
        catch (NpgsqlException ex)
        {
            return HealthCheckResult.Unhealthy("The database cannot be reached.", ex);
        }
    }

    private async Task ProbeAsync()
    {
        // Not the probe's cancellation: a cancelled query sends a cancel request, which a silent network holds too.
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        await command.ExecuteScalarAsync();
    }
}
