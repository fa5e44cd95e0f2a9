using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Serves each health report from memory for <see cref="Lifetime"/>, and lets concurrent probes share one run:
/// however often /health is called (by probes, or by anyone with the link), the database and storage checks behind
/// it run at most once per second per endpoint.
/// </summary>
internal sealed class CachedHealthCheckService(HealthCheckService inner) : HealthCheckService
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private readonly Dictionary<object, (Task<HealthReport> Report, long At)> _reports = [];
    private readonly object _all = new();

    public override Task<HealthReport> CheckHealthAsync(Func<HealthCheckRegistration, bool>? predicate,
        CancellationToken cancellationToken = default)
    {
        // Each endpoint passes the same predicate instance on every call.
        var key = (object?)predicate ?? _all;
        Task<HealthReport> report;
        lock (_gate)
        {
            if (_reports.TryGetValue(key, out var cached)
                && (!cached.Report.IsCompleted || Environment.TickCount64 - cached.At < Lifetime.TotalMilliseconds))
            {
                report = cached.Report;
            }
            else
            {
                // Not the caller's token: the run is shared, and one caller leaving must not fail it for the others.
                report = RunAsync(key, predicate);
                _reports[key] = (report, Environment.TickCount64);
            }
        }

        return report.WaitAsync(cancellationToken);
    }

    private async Task<HealthReport> RunAsync(object key, Func<HealthCheckRegistration, bool>? predicate)
    {
        await Task.Yield();
        var report = await inner.CheckHealthAsync(predicate, CancellationToken.None);
        lock (_gate)
        {
            // The lifetime counts from the answer, not from the question.
            if (_reports.TryGetValue(key, out var entry) && entry.Report.IsCompleted is false)
            {
                _reports[key] = (entry.Report, Environment.TickCount64);
            }
        }

        return report;
    }
}
