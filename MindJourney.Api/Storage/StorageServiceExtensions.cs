using Microsoft.Extensions.Diagnostics.HealthChecks;
using MindJourney.Api.Telemetry;

namespace MindJourney.Api.Storage;

public static class StorageServiceExtensions
{
    /// <summary>Storage of response files and texts: the client (or none), the durable outbox, its worker, the
    /// telemetry, a readiness check that degrades rather than fails, and the limits that keep uploads from starving
    /// the rest (a bulk connection pool, uploads in flight per client, the spool folder).</summary>
    public static IHostApplicationBuilder AddResponseStorage(this IHostApplicationBuilder builder)
    {
        builder.Services.Configure<StorageOptions>(builder.Configuration.GetSection(StorageOptions.SectionName));
        builder.Services.AddSingleton(StorageTarget.From(builder.Configuration));
        builder.Services.AddSingleton<BulkDataSource>();
        builder.Services.AddHostedService<UploadSpoolCleanup>();
        builder.Services.AddUploadsInFlightLimit();
        builder.Services.AddSingleton<ResponseStorage>();
        builder.Services.AddSingleton<DeliveryOutbox>();
        builder.Services.AddSingleton<UploadDeliverer>();
        builder.Services.AddSingleton(services =>
        {
            var telemetry = ActivatorUtilities.CreateInstance<StorageTelemetry>(services);
            telemetry.ObservePending(services.GetRequiredService<DeliveryOutbox>().CachedPendingCount);
            return telemetry;
        });
        builder.Services.AddHostedService<DeliveryWorker>();
        builder.Services.AddSingleton<StorageHealthCheck>();
        builder.Services.AddHealthChecks().AddCheck<StorageHealthCheck>("storage", HealthStatus.Degraded, ["ready"]);
        return builder;
    }
}
