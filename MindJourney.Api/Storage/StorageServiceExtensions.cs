using Microsoft.Extensions.Diagnostics.HealthChecks;
using MindJourney.Api.Telemetry;
using OpenTelemetry.Metrics;
using Polly;

namespace MindJourney.Api.Storage;

public static class StorageServiceExtensions
{
    /// <summary>Storage of response files and texts: the client (or none), the durable outbox, its worker, the
    /// outage circuit breaker, the orphan object sweep, the telemetry, a readiness check that degrades rather than
    /// fails, and the limits that keep uploads from starving the rest (a bulk connection pool, uploads in flight per
    /// client, the spool folder).</summary>
    public static IHostApplicationBuilder AddStorage(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(StorageTarget.From(builder.Configuration));
        builder.Services.AddSingleton<BulkDataSource>();
        builder.Services.AddHostedService<UploadSpoolCleanup>();
        builder.Services.AddUploadsInFlightLimit();
        builder.Services.AddSingleton<ResponseStorage>();
        builder.Services.AddSingleton<StoredObjectNumbers>();
        builder.Services.AddSingleton<PendingCountCache>();
        builder.Services.AddSingleton<DeliveryOutbox>();
        builder.Services.AddSingleton<PendingBytesCeiling>();
        builder.Services.AddSingleton<ClientUploadBytes>();
        builder.Services.AddSingleton<UploadBudgets>();
        builder.Services.AddResiliencePipeline(UploadDeliverer.OutageBreaker, UploadDeliverer.AddOutageBreaker);
        // The breaker opening and closing: Polly's own meter (its logs go out with every other log).
        builder.Services.ConfigureOpenTelemetryMeterProvider(metrics => metrics.AddMeter("Polly"));
        builder.Services.AddSingleton<UploadDeliverer>();
        builder.Services.AddSingleton(services =>
        {
            var telemetry = ActivatorUtilities.CreateInstance<StorageTelemetry>(services);
            var outbox = services.GetRequiredService<DeliveryOutbox>();
            var pending = services.GetRequiredService<PendingCountCache>();
            telemetry.ObservePending(() => pending.Read(() => outbox.CountPendingTotalsAsync()),
                () => pending.ReadBytes(() => outbox.CountPendingTotalsAsync()));
            return telemetry;
        });
        builder.Services.AddSingleton<DeliverySignal>();
        builder.Services.AddHostedService<DeliveryWorker>();
        // One instance, both the background sweep and what the admin route runs on demand.
        builder.Services.AddSingleton<OrphanObjectSweep>();
        builder.Services.AddHostedService(services => services.GetRequiredService<OrphanObjectSweep>());
        builder.Services.AddSingleton<StorageHealthCheck>();
        builder.Services.AddHealthChecks().AddCheck<StorageHealthCheck>("storage", HealthStatus.Degraded, ["ready"]);
        return builder;
    }
}
