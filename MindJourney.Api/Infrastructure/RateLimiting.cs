using System.Diagnostics.Metrics;
using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using MindJourney.Api.Telemetry;

namespace MindJourney.Api.Infrastructure;

/// <summary>Settings under <c>MindJourney:RateLimit</c>: how many sessions (visitor numbers) one client address
/// may start per window, so a script cannot burn thousands of numbers.</summary>
public sealed class RateLimitOptions
{
    public const string SectionName = "MindJourney:RateLimit";

    /// <summary>0 turns the limit off (load tests, trusted lab networks).</summary>
    public int SessionsPerWindow { get; set; } = 30;

    public int WindowSeconds { get; set; } = 60;
}

public static class RateLimiting
{
    public const string SessionCreationPolicy = "session-creation";

    public static IServiceCollection AddSessionRateLimiting(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection(RateLimitOptions.SectionName).Get<RateLimitOptions>() ?? new RateLimitOptions();

        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.AddPolicy(SessionCreationPolicy, http =>
            {
                if (options.SessionsPerWindow <= 0)
                {
                    return RateLimitPartition.GetNoLimiter("off");
                }

                var client = ClientAddress.PartitionKey(http);
                return RateLimitPartition.GetFixedWindowLimiter(client, _ => new FixedWindowRateLimiterOptions
                {
                    PermitLimit = options.SessionsPerWindow,
                    Window = TimeSpan.FromSeconds(Math.Max(1, options.WindowSeconds)),
                    QueueLimit = 0,
                });
            });

            limiter.OnRejected = async (context, cancellationToken) =>
            {
                var http = context.HttpContext;
                http.RequestServices.GetRequiredService<VisitorNumberingTelemetry>().RateLimited.Add(1);

                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait)
                    ? (int)Math.Ceiling(wait.TotalSeconds)
                    : options.WindowSeconds;
                http.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);

                await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = http,
                    ProblemDetails = new ProblemDetails
                    {
                        Status = StatusCodes.Status429TooManyRequests,
                        Title = "Too many requests",
                        Detail = $"Too many sessions started from this address. Retry after {retryAfter} s.",
                    },
                });
            };
        });

        return services;
    }
}
