using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace MindJourney.Api.Storage;

/// <summary>
/// Storage readiness for /health. Never Unhealthy: while storage is down or not configured the API still accepts
/// every upload (kept as pending), so it reports Degraded (HTTP 200) rather than taking itself out of rotation.
/// The probe result is cached, so probes of /health do not become requests to storage.
/// </summary>
public sealed class StorageHealthCheck(ResponseStorage storage) : IHealthCheck
{
    private static readonly TimeSpan CacheLifetime = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(3);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private HealthCheckResult? _last;
    private long _lastAt;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!storage.IsConfigured)
        {
            return HealthCheckResult.Degraded("No storage configured: uploads are kept in the database as pending.");
        }

        if (_last is { } cached && Environment.TickCount64 - _lastAt < CacheLifetime.TotalMilliseconds)
        {
            return cached;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_last is { } fresh && Environment.TickCount64 - _lastAt < CacheLifetime.TotalMilliseconds)
            {
                return fresh;
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ProbeTimeout);
            try
            {
                await storage.ProbeAsync(timeout.Token);
                _last = HealthCheckResult.Healthy($"Storage answers ({storage.Target.Mode}).");
            }
            catch (Exception ex) when (ResponseStorage.IsUnavailable(ex) && !cancellationToken.IsCancellationRequested)
            {
                _last = HealthCheckResult.Degraded(
                    $"Storage does not answer ({ex.GetType().Name}): uploads are kept as pending and delivered later.");
            }

            _lastAt = Environment.TickCount64;
            return _last.Value;
        }
        finally
        {
            _gate.Release();
        }
    }
}
