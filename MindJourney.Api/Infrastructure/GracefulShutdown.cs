using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace MindJourney.Api.Infrastructure;

/// <summary>
/// How a replica leaves (SIGTERM from the platform, Ctrl+C), with the settings of <see cref="ShutdownOptions"/>: a
/// drain while readiness says Unhealthy (Kubernetes and Container Apps take a few seconds to notice), within the host's
/// shutdown timeout (keep it below the platform's grace period, 30 s on Kubernetes and Container Apps). Then Kestrel
/// stops accepting connections and waits for the requests in flight; the storage worker hands back the deliveries it
/// holds (<see cref="Storage.UploadDeliverer"/>); a numbering statement already sent runs to its end. Nothing
/// acknowledged is lost and no number is burned.
/// </summary>
public static partial class GracefulShutdown
{
    public static IHostApplicationBuilder AddGracefulShutdown(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ShutdownOptions>().BindConfiguration(ShutdownOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<HostOptions>().Configure<IOptions<ShutdownOptions>>((host, shutdown) =>
            host.ShutdownTimeout = TimeSpan.FromSeconds(shutdown.Value.TimeoutSeconds));
        builder.Services.AddHostedService(services => new Drain(
            TimeSpan.FromSeconds(services.GetRequiredService<IOptions<ShutdownOptions>>().Value.DrainSeconds),
            services.GetRequiredService<ILogger<Drain>>()));
        builder.Services.AddHealthChecks().AddCheck<StoppingHealthCheck>("stopping", HealthStatus.Unhealthy, ["ready"]);
        return builder;
    }

    /// <summary>Unhealthy from the moment the host is told to stop: the readiness probe takes the replica out of
    /// the balancer while it still serves.</summary>
    private sealed class StoppingHealthCheck(IHostApplicationLifetime lifetime) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested
                ? HealthCheckResult.Unhealthy("shutting down")
                : HealthCheckResult.Healthy());
    }

    /// <summary>Runs before any hosted service stops (the web server included), so the port stays open during the
    /// drain.</summary>
    private sealed partial class Drain(TimeSpan drain, ILogger<Drain> logger) : IHostedLifecycleService
    {
        public async Task StoppingAsync(CancellationToken cancellationToken)
        {
            LogStopping(logger, drain.TotalSeconds);
            if (drain > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(drain, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    // The shutdown timeout ended the drain: stop now.
                }
            }
        }

        public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        [LoggerMessage(Level = LogLevel.Information,
            Message = "Stopping: readiness reports Unhealthy, serving {DrainSeconds:0.#} s more, then finishing the requests in flight")]
        private static partial void LogStopping(ILogger logger, double drainSeconds);
    }
}
