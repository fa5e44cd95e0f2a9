using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using MindJourney.Api.Telemetry;

namespace MindJourney.Api.Infrastructure;

/// <summary>Settings under <c>MindJourney:RateLimit</c>: how many requests of each kind one client (an IPv4 address,
/// or an IPv6 /64, as the trusted proxies let it be known) may send per window. <c>0</c> turns a limit off (load
/// tests, trusted lab networks).</summary>
public sealed class RateLimitOptions
{
    public const string SectionName = "MindJourney:RateLimit";

    /// <summary>Sessions (visitor numbers) started, so a script cannot burn thousands of numbers.</summary>
    public int SessionsPerWindow { get; set; } = 30;

    /// <summary>Answers recorded (JSON or uploads): a participant gives a few per minute at most.</summary>
    public int ResponsesPerWindow { get; set; } = 120;

    /// <summary>Files and texts read back.</summary>
    public int DownloadsPerWindow { get; set; } = 60;

    public int WindowSeconds { get; set; } = 60;
}

/// <summary>The per-client limits, in one place. The three windows are endpoint policies (routes opt in with
/// <c>RequireRateLimiting(policy)</c>); uploads in flight are the global limiter, since ASP.NET Core runs one endpoint
/// policy per route and an upload must pass both its window and its concurrency limit.</summary>
public static class RateLimiting
{
    public const string SessionCreationPolicy = "session-creation";
    public const string ResponsePolicy = "response-recording";
    public const string DownloadPolicy = "file-download";
    public const string UploadsInFlight = "uploads-in-flight";

    /// <summary>The tag that tells the refused-request counter which limit refused.</summary>
    public const string PolicyTag = "mindjourney.rate_limit.policy";

    public static IServiceCollection AddClientRateLimiting(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection(RateLimitOptions.SectionName).Get<RateLimitOptions>() ?? new RateLimitOptions();
        var window = TimeSpan.FromSeconds(Math.Max(1, options.WindowSeconds));

        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.AddPolicy(
                SessionCreationPolicy, new PerClientWindow(SessionCreationPolicy, options.SessionsPerWindow, window, "sessions started"));
            limiter.AddPolicy(ResponsePolicy, new PerClientWindow(ResponsePolicy, options.ResponsesPerWindow, window, "responses sent"));
            limiter.AddPolicy(DownloadPolicy, new PerClientWindow(DownloadPolicy, options.DownloadsPerWindow, window, "downloads"));
        });

        return services;
    }

    /// <summary>Answers a refusal: 429, Retry-After, a ProblemDetails body, and the refused-request counter.</summary>
    public static async ValueTask RefuseAsync(HttpContext http, string policy, int retryAfterSeconds, string detail)
    {
        http.RequestServices.GetRequiredService<VisitorNumberingTelemetry>().RateLimited.Add(1,
            new KeyValuePair<string, object?>(PolicyTag, policy));
        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        http.Response.Headers.RetryAfter = retryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status429TooManyRequests,
                Title = "Too many requests",
                Detail = detail,
            },
        });
    }

    /// <summary>So many requests of one kind per client per window; <c>0</c> permits turns it off.</summary>
    private sealed class PerClientWindow(string policy, int permitsPerWindow, TimeSpan window, string what) : IRateLimiterPolicy<string>
    {
        public RateLimitPartition<string> GetPartition(HttpContext httpContext)
        {
            if (permitsPerWindow <= 0)
            {
                return RateLimitPartition.GetNoLimiter("off");
            }

            return RateLimitPartition.GetFixedWindowLimiter(ClientAddress.PartitionKey(httpContext), _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = permitsPerWindow,
                Window = window,
                QueueLimit = 0,
            });
        }

        public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected => (context, _) =>
        {
            var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait)
                ? (int)Math.Ceiling(wait.TotalSeconds)
                : (int)window.TotalSeconds;
            return RefuseAsync(context.HttpContext, policy, retryAfter, $"Too many {what} from this address. Retry after {retryAfter} s.");
        };
    }
}
