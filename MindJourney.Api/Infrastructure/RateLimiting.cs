using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using MindJourney.Api.Sessions;
using MindJourney.Api.Telemetry;

namespace MindJourney.Api.Infrastructure;

/// <summary>The per-client limits, in one place. The windows are endpoint policies (every participant route opts in with
/// <c>RequireRateLimiting(policy)</c>, so a limit follows the endpoint that runs, however its path is spelled); uploads
/// in flight are the global limiter, since ASP.NET Core runs one endpoint policy per route and an upload must pass both
/// its window and its concurrency limit.</summary>
public static class RateLimiting
{
    public const string SessionCreationPolicy = "session-creation";
    public const string ResponsePolicy = "response-recording";
    public const string DownloadPolicy = "file-download";
    public const string ReadPolicy = "participant-reads";
    public const string SessionUpdatePolicy = "session-updates";
    public const string ResponsePagePolicy = "response-pages";
    public const string UploadsInFlight = "uploads-in-flight";

    /// <summary>The tag that tells the refused-request counter which limit refused.</summary>
    public const string PolicyTag = "mindjourney.rate_limit.policy";

    public static IServiceCollection AddClientRateLimiting(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        // A list that is not CIDR ranges stops the start here, with the setting's name.
        var section = configuration.GetSection(RateLimitOptions.SectionName);
        var exempt = new ExemptNetworks(TrustedProxies.ReadNetworks(section, "ExemptNetworks"));

        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitOptions>, WarmUpRequests>((limiter, settings, warmUp) =>
        {
            var options = settings.Value;
            var window = TimeSpan.FromSeconds(options.WindowSeconds);
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            void Add(string policy, int permits, string what, Func<HttpContext, bool>? uncounted = null) =>
                limiter.AddPolicy(policy, new PerClientWindow(policy, permits, window, what, exempt, warmUp, uncounted));
            Add(SessionCreationPolicy, options.SessionsPerWindow, "sessions started");
            // A retried answer whose first this instance recorded within the window is not counted twice.
            Add(ResponsePolicy, options.ResponsesPerWindow, "responses sent",
                http => http.RequestServices.GetRequiredService<Responses.AnswerKeys>().IsFreeReplay(http));
            Add(DownloadPolicy, options.DownloadsPerWindow, "downloads");
            Add(ReadPolicy, options.ReadsPerWindow, "reads of experiments, levels and sessions");
            Add(SessionUpdatePolicy, options.SessionUpdatesPerWindow, "session updates");
            Add(ResponsePagePolicy, options.ResponsePagesPerWindow, "pages of answers");
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

    /// <summary>So many requests of one kind per client per window; <c>0</c> permits turns it off, and an exempt
    /// client (and the warm-up's own requests) skips it, as does a request <paramref name="uncounted"/> says was
    /// already counted.</summary>
    private sealed class PerClientWindow(string policy, int permitsPerWindow, TimeSpan window, string what, ExemptNetworks exempt,
        WarmUpRequests warmUp, Func<HttpContext, bool>? uncounted) : IRateLimiterPolicy<string>
    {
        public RateLimitPartition<string> GetPartition(HttpContext httpContext)
        {
            if (permitsPerWindow <= 0 || exempt.Contains(httpContext.Connection.RemoteIpAddress) || warmUp.IsWarmUp(httpContext)
                || uncounted?.Invoke(httpContext) == true)
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

/// <summary>Clients that skip the per-client windows (<c>MindJourney:RateLimit:ExemptNetworks</c>): a lab where a whole
/// classroom reaches the API through one NAT address. The address is the one the trusted proxies let be known. Only
/// the windows: the uploads-in-flight bound and every memory and disk bound still apply.</summary>
internal sealed class ExemptNetworks(IReadOnlyList<System.Net.IPNetwork> networks)
{
    public bool Contains(System.Net.IPAddress? address)
    {
        if (address is null || networks.Count == 0)
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        foreach (var network in networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }
}
