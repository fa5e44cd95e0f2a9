using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MindJourney.Api.Infrastructure;

namespace MindJourney.Api.Admin;

public static class AdminApi
{
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/admin")
            .WithTags("Admin")
            .RequireAuthorization(AdminKeyAuthenticationHandler.PolicyName);

        api.MapPost("/assign-visitor-numbers", AssignVisitorNumbers)
            .WithName("AssignVisitorNumbers")
            .WithSummary("Number every user and session still without a visitor number, oldest first");
        api.MapGet("/visitor-numbers/audit", Audit)
            .WithName("AuditVisitorNumbers")
            .WithSummary("Duplicates, gaps, mismatches and pending uploads");
        api.MapGet("/visitor-numbers/health", NumberingHealth)
            .WithName("VisitorNumberingHealth")
            .WithSummary("The numbering health check's status with its reason (/health says only the status)");

        return app;
    }

    public static async Task<Ok<RecoveryResult>> AssignVisitorNumbers(
        VisitorNumberRecovery recovery, AdminActionLog actions, ClaimsPrincipal admin, CancellationToken cancellationToken)
    {
        var result = await recovery.RecoverAsync(cancellationToken);
        await actions.RecordAsync(admin, AdminActionLog.Recovery, result, ApiJsonContext.Default.RecoveryResult);
        return TypedResults.Ok(result);
    }

    public static async Task<Ok<AuditReport>> Audit(VisitorNumberAudit audit, CancellationToken cancellationToken) =>
        TypedResults.Ok(await audit.RunAsync(cancellationToken));

    public static async Task<Ok<NumberingHealthReport>> NumberingHealth(HealthCheckService health, CancellationToken cancellationToken) =>
        TypedResults.Ok(await NumberingHealthCheck.ReportAsync(health, cancellationToken));

    public static IServiceCollection AddAdminServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<AdminOptions>(configuration.GetSection(AdminOptions.SectionName));
        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, AdminKeyAuthenticationHandler>(AdminKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(AdminKeyAuthenticationHandler.PolicyName, policy => policy
                .AddAuthenticationSchemes(AdminKeyAuthenticationHandler.SchemeName)
                .RequireRole(AdminKeyAuthenticationHandler.AdminRole));
        services.AddSingleton<VisitorNumberRecovery>();
        services.AddSingleton<VisitorNumberAudit>();
        services.AddSingleton<AdminActionLog>();
        services.Configure<NumberingHealthOptions>(configuration.GetSection(NumberingHealthOptions.SectionName));
        services.AddSingleton<NumberingHealthCheck>();
        services.AddHealthChecks().AddCheck<NumberingHealthCheck>(NumberingHealthCheck.Name, HealthStatus.Degraded, ["ready"]);
        return services;
    }
}
