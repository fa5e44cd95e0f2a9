using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

// Adds common Aspire services: service discovery, resilience, health checks, and OpenTelemetry.
// Every MindJourney service calls AddServiceDefaults() once, first thing in Program.cs.
public static class Extensions
{
    /// <summary>Readiness: the database and storage checks (and whatever else holds an instance back).</summary>
    public const string HealthEndpointPath = "/health";
    private const string AlivenessEndpointPath = "/alive";

    // Our own ActivitySources and Meters ("MindJourney.VisitorNumbering", "MindJourney.Storage", ...).
    private const string MindJourneyTelemetryPrefix = "MindJourney.*";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();

        builder.AddDefaultHealthChecks();

        builder.Services.AddServiceDiscovery();

        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });

        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddOptions<TraceSamplingOptions>().BindConfiguration(TraceSamplingOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics =>
            {
                metrics.AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddMeter(MindJourneyTelemetryPrefix)
                    .AddMeter("Npgsql");
            })
            .WithTracing(tracing =>
            {
                // Under load every trace would cost the dashboard more than the request: a share is exported, at
                // most so many a second (TraceSampling), and every error and fallback trace. The keeper runs before
                // any exporter. The sampler is a service so that its per-second window is disposed with the host.
                builder.Services.AddSingleton(services =>
                {
                    var sampling = services.GetRequiredService<IOptions<TraceSamplingOptions>>().Value;
                    return new RatioSampler(sampling.TraceSampleRatio, sampling.MaxTracesPerSecond);
                });
                tracing.SetSampler(services => services.GetRequiredService<RatioSampler>())
                    .AddProcessor(services => new KeepNotableTraces(services.GetServices<KeptTraceTag>()));
                tracing.AddSource(builder.Environment.ApplicationName)
                    .AddSource(MindJourneyTelemetryPrefix)
                    .AddSource("Npgsql")
                    .AddAspNetCoreInstrumentation(options =>
                        // Health probes would drown the traces that matter.
                        options.Filter = context => !IsProbe(context.Request.Path))
                    .AddHttpClientInstrumentation();
            });

        builder.AddOpenTelemetryExporters();

        return builder;
    }

    private static TBuilder AddOpenTelemetryExporters<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var useOtlpExporter = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);

        if (useOtlpExporter)
        {
            builder.Services.AddOpenTelemetry().UseOtlpExporter();
        }

        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            // Liveness: the process answers. Readiness checks (database, storage) are added by each service.
            .AddCheck("self", () => HealthCheckResult.Healthy(), ["live"]);

        // Readiness runs the database and storage checks: anyone can call /health, so its report is cached briefly.
        var registered = builder.Services.Last(d => d.ServiceType == typeof(HealthCheckService));
        if (registered.ImplementationType is { } implementation)
        {
            builder.Services.Remove(registered);
            builder.Services.AddSingleton<HealthCheckService>(services =>
                new CachedHealthCheckService((HealthCheckService)ActivatorUtilities.CreateInstance(services, implementation)));
        }

        return builder;
    }

    private static bool IsProbe(PathString path) =>
        path.StartsWithSegments(HealthEndpointPath) || path.StartsWithSegments(AlivenessEndpointPath);

    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        // Unlike the Aspire template, these answer in every environment: the AppHost, the load harness and an
        // operator's probe all rely on them, and they reveal nothing but Healthy/Unhealthy.
        // Probes run every few seconds; the database and storage calls inside them would bury the traces that
        // matter, so nothing under a probe is traced (the probe's own request span is filtered above).
        app.UseWhen(context => IsProbe(context.Request.Path), probe => probe.Use(async (context, next) =>
        {
            using var _ = SuppressInstrumentationScope.Begin();
            await next(context);
        }));

        app.MapHealthChecks(HealthEndpointPath);
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions
        {
            Predicate = r => r.Tags.Contains("live")
        });

        return app;
    }
}
