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

/// <summary>The per-client limits, in one place; routes opt in with <c>RequireRateLimiting(policy)</c>.</summary>
public static class RateLimiting
{
    public const string SessionCreationPolicy = "session-creation";
    public const string ResponsePolicy = "response-recording";
    public const string DownloadPolicy = "file-download";

    /// <summary>The tag that tells the refused-request counter which limit refused.</summary>
    public const string PolicyTag = "mindjourney.rate_limit.policy";

    public static IServiceCollection AddClientRateLimiting(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection(RateLimitOptions.SectionName).Get<RateLimitOptions>() ?? new RateLimitOptions();
        var window = TimeSpan.FromSeconds(Math.Max(1, options.WindowSeconds));
        var refusedWhat = new Dictionary<string, string>
        {
            [SessionCreationPolicy] = "sessions started",
            [ResponsePolicy] = "responses sent",
            [DownloadPolicy] = "downloads",
        };

        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            AddPerClientPolicy(limiter, SessionCreationPolicy, options.SessionsPerWindow, window);
            AddPerClientPolicy(limiter, ResponsePolicy, options.ResponsesPerWindow, window);
            AddPerClientPolicy(limiter, DownloadPolicy, options.DownloadsPerWindow, window);

            limiter.OnRejected = async (context, cancellationToken) =>
            {
                var http = context.HttpContext;
                var policy = http.GetEndpoint()?.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName ?? "unknown";
                http.RequestServices.GetRequiredService<VisitorNumberingTelemetry>().RateLimited.Add(1,
                    new KeyValuePair<string, object?>(PolicyTag, policy));

                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait)
                    ? (int)Math.Ceiling(wait.TotalSeconds)
                    : (int)window.TotalSeconds;
                http.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);

                var what = refusedWhat.GetValueOrDefault(policy, "requests");
                await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = http,
                    ProblemDetails = new ProblemDetails
                    {
                        Status = StatusCodes.Status429TooManyRequests,
                        Title = "Too many requests",
                        Detail = $"Too many {what} from this address. Retry after {retryAfter} s.",
                    },
                });
            };
        });

        return services;
    }

    private static void AddPerClientPolicy(RateLimiterOptions limiter, string policy, int permitsPerWindow, TimeSpan window) =>
        limiter.AddPolicy(policy, http =>
        {
            if (permitsPerWindow <= 0)
            {
                return RateLimitPartition.GetNoLimiter("off");
            }

            return RateLimitPartition.GetFixedWindowLimiter(ClientAddress.PartitionKey(http), _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = permitsPerWindow,
                Window = window,
                QueueLimit = 0,
            });
        });
}
