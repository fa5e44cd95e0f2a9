using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace MindJourney.Api.Infrastructure;

/// <summary>
/// How a replica leaves (SIGTERM from the platform, Ctrl+C). Settings under <c>MindJourney:Shutdown</c>:
/// <list type="bullet">
/// <item><c>DrainSeconds</c>: after the signal, keep serving this long while <c>/health</c> answers Unhealthy, so a
/// load balancer that polls readiness stops sending new requests before the port closes (Kubernetes and Container
/// Apps take a few seconds to notice). Default: 0 (a manifest the AppHost publishes sets 5).</item>
/// <item><c>TimeoutSeconds</c>: the host's shutdown timeout, drain included: requests still running when it ends
/// are cut off. Default: 30 (a published manifest: 25). Keep it below the grace period the platform allows
/// before it kills the process (30 s on Kubernetes and Container Apps).</item>
/// </list>
/// Then Kestrel stops accepting connections and waits for the requests in flight; the storage worker hands back
/// the deliveries it holds (<see cref="Storage.UploadDeliverer"/>); a numbering statement already sent runs to
/// its end. Nothing acknowledged is lost and no number is burned.
/// </summary>
public static partial class GracefulShutdown
{
    public const string SectionName = "MindJourney:Shutdown";

    public static IHostApplicationBuilder AddGracefulShutdown(this IHostApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(SectionName);
        var drain = TimeSpan.FromSeconds(Math.Max(0, section.GetValue("DrainSeconds", 0.0)));
        var timeout = TimeSpan.FromSeconds(Math.Max(1, section.GetValue("TimeoutSeconds", 30.0)));
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = timeout);
        builder.Services.AddHostedService(services => new Drain(drain,
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
