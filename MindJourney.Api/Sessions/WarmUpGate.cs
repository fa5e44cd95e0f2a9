using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace MindJourney.Api.Sessions;

public static class WarmUpGate
{
    /// <summary>/health answers 503 Unhealthy while the warm-up runs (<see cref="NumberingWarmUp"/>), so a prober (the
    /// AppHost, a load balancer) sends no load to a cold instance. It answers without running the checks: nothing is
    /// wrong, and an Unhealthy check is logged as an error. Once the warm-up has ended, warm or not, the checks tell
    /// the instance's real health.</summary>
    public static IApplicationBuilder UseWarmUpGate(this IApplicationBuilder app)
    {
        var warmUp = app.ApplicationServices.GetRequiredService<NumberingWarmUp>();
        return app.Use(async (context, next) =>
        {
            if (warmUp.Result is null && context.Request.Path.StartsWithSegments(Extensions.HealthEndpointPath))
            {
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                context.Response.ContentType = "text/plain";
                context.Response.Headers.CacheControl = "no-store, no-cache";
                await context.Response.WriteAsync(nameof(HealthStatus.Unhealthy));
                return;
            }

            await next(context);
        });
    }
}
