using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MindJourney.Api.Telemetry;

namespace MindJourney.Api.Admin;

public static class AdminServiceExtensions
{
    /// <summary>The researcher's side: the admin key and its guessing throttle, recovery, audit, the action log, the
    /// participant list, and the numbering health check.</summary>
    public static IHostApplicationBuilder AddAdmin(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<AdminOptions>().BindConfiguration(AdminOptions.SectionName)
            .Validate(AdminOptions.IsValid, AdminOptions.KeyTooShort).ValidateOnStart();
        services.AddOptions<AdminAuthThrottleOptions>().BindConfiguration(AdminAuthThrottleOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<NumberingHealthOptions>().BindConfiguration(NumberingHealthOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<AdminTelemetry>();
        services.AddSingleton<AdminAuthThrottle>();
        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, AdminKeyAuthenticationHandler>(AdminKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(AdminKeyAuthenticationHandler.PolicyName, policy => policy
                .AddAuthenticationSchemes(AdminKeyAuthenticationHandler.SchemeName)
                .RequireRole(AdminKeyAuthenticationHandler.AdminRole));
        services.AddSingleton<VisitorNumberRecovery>();
        services.AddSingleton<VisitorNumberAudit>();
        services.AddSingleton<AdminActionLog>();
        services.AddSingleton<ParticipantList>();
        services.AddSingleton<NumberingHealthCheck>();
        services.AddHealthChecks().AddCheck<NumberingHealthCheck>(NumberingHealthCheck.Name, HealthStatus.Degraded, ["ready"]);
        return builder;
    }
}
