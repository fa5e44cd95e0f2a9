using MindJourney.Api.Telemetry;
using OpenTelemetry.Instrumentation.AspNetCore;

namespace MindJourney.Api.Sessions;

public static class SessionsServiceExtensions
{
    /// <summary>Numbering and Idempotency-Keys: what starting a session needs. Settings are checked at start.</summary>
    public static IHostApplicationBuilder AddSessions(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<NumberingOptions>().BindConfiguration(NumberingOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<NumberingBatcher>();
        // A fallback is what a developer looks for in the traces: kept whatever share of traces is exported.
        builder.Services.KeepTracesTagged(VisitorNumberingTelemetry.OutcomeTag, VisitorNumberingTelemetry.OutcomeFallback);
        builder.Services.AddSingleton<VisitorNumberAssigner>();
        builder.Services.AddOptions<IdempotencyOptions>().BindConfiguration(IdempotencyOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<IdempotencyKeyHasher>();
        builder.Services.AddSingleton<RecruitmentKeyHasher>();
        builder.Services.AddHostedService<IdempotencyKeyExpiry>();
        // The Play path runs once before /health turns Healthy, drawing no number.
        builder.Services.AddOptions<WarmUpOptions>().BindConfiguration(WarmUpOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<WarmUpRequests>();
        builder.Services.AddSingleton<NumberingWarmUp>();
        // Its requests are the process's own: no request trace (the filter the service defaults set still applies).
        builder.Services.AddOptions<AspNetCoreTraceInstrumentationOptions>().Configure<WarmUpRequests>((tracing, requests) =>
        {
            var kept = tracing.Filter;
            tracing.Filter = context => !requests.IsWarmUp(context) && (kept?.Invoke(context) ?? true);
        });
        builder.Services.AddHostedService(services => services.GetRequiredService<NumberingWarmUp>());
        return builder;
    }
}
