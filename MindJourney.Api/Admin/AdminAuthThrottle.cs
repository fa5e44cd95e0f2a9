using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Telemetry;

namespace MindJourney.Api.Admin;

/// <summary>The failure an authentication carries while its client is throttled: the caller answers 429.</summary>
public sealed class AdminAuthThrottledException(int retryAfterSeconds)
    : Exception("Too many wrong admin keys from this client.")
{
    public int RetryAfterSeconds { get; } = retryAfterSeconds;
}

/// <summary>
/// Wrong admin keys per client (<see cref="ClientAddress.PartitionKey(HttpContext)"/>): after
/// <see cref="AdminAuthThrottleOptions.AdminFailuresPerWindow"/> failures in a window the client's admin calls answer
/// 429 until the window ends, correct keys included, and its keys are not even compared: a guesser learns nothing
/// from the rest of the window. One fixed window per client (System.Threading.RateLimiting), a permit per failure.
/// </summary>
public sealed partial class AdminAuthThrottle : IDisposable
{
    public const string Policy = "admin-authentication";

    private readonly PartitionedRateLimiter<string> _failures;

    // A window's permits run out exactly once; this keeps two failures that spend the last ones at the same moment
    // from both writing the Warning. Shorter than the window, so the next window's Warning is never held back.
    private readonly PartitionedRateLimiter<string> _warnings;
    private readonly AdminTelemetry _telemetry;
    private readonly ILogger<AdminAuthThrottle> _logger;
    private readonly int _limit;
    private readonly TimeSpan _window;

    public AdminAuthThrottle(IOptions<AdminAuthThrottleOptions> options, AdminTelemetry telemetry, ILogger<AdminAuthThrottle> logger)
    {
        _limit = options.Value.AdminFailuresPerWindow;
        _window = TimeSpan.FromSeconds(options.Value.AdminFailureWindowSeconds);
        _telemetry = telemetry;
        _logger = logger;
        _failures = PartitionedRateLimiter.Create<string, string>(client => RateLimitPartition.GetFixedWindowLimiter(client,
            _ => new FixedWindowRateLimiterOptions { PermitLimit = _limit, Window = _window, QueueLimit = 0 }));
        var once = TimeSpan.FromSeconds(Math.Min(1, _window.TotalSeconds / 2));
        _warnings = PartitionedRateLimiter.Create<string, string>(client => RateLimitPartition.GetFixedWindowLimiter(client,
            _ => new FixedWindowRateLimiterOptions { PermitLimit = 1, Window = once, QueueLimit = 0 }));
    }

    /// <summary>Seconds until <paramref name="client"/> may present a key again; null when it may now.</summary>
    public int? BlockedFor(string client)
    {
        // Zero permits asks the limiter's state without taking anything.
        using var lease = _failures.AttemptAcquire(client, 0);
        if (lease.IsAcquired)
        {
            return null;
        }

        _telemetry.AuthFailures.Add(1, new KeyValuePair<string, object?>(AdminTelemetry.ReasonTag, AdminTelemetry.ReasonThrottled));
        return lease.TryGetMetadata(MetadataName.RetryAfter, out var wait)
            ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds))
            : (int)_window.TotalSeconds;
    }

    /// <summary>Counts a wrong key; the one that spends the client's window is logged, so each window that throttles
    /// a client is logged once, however many calls it refuses.</summary>
    public void RecordFailure(string client)
    {
        _telemetry.AuthFailures.Add(1, new KeyValuePair<string, object?>(AdminTelemetry.ReasonTag, AdminTelemetry.ReasonWrongKey));
        using var lease = _failures.AttemptAcquire(client, 1);
        if (!lease.IsAcquired)
        {
            return; // another failure at the same moment spent the window, and logs it
        }

        using var left = _failures.AttemptAcquire(client, 0);
        if (!left.IsAcquired)
        {
            using var warning = _warnings.AttemptAcquire(client, 1);
            if (warning.IsAcquired)
            {
                LogThrottled(_logger, client, _limit, (int)_window.TotalSeconds);
            }
        }
    }

    /// <summary>The answer to an admin call from a throttled client, or null when <paramref name="result"/> is not
    /// such a refusal.</summary>
    public static IResult? Refusal(HttpContext http, AuthenticateResult result)
    {
        if (result.Failure is not AdminAuthThrottledException throttled)
        {
            return null;
        }

        http.Response.Headers.RetryAfter = throttled.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return Problems.Create(StatusCodes.Status429TooManyRequests, "Too many requests", Detail(throttled.RetryAfterSeconds));
    }

    public static string Detail(int retryAfterSeconds) =>
        $"Too many wrong admin keys from this address. Every admin call is refused for {retryAfterSeconds} s.";

    public void Dispose()
    {
        _failures.Dispose();
        _warnings.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Admin calls from {Client} refused after {Failures} wrong keys; refused for the rest of the {WindowSeconds} s window")]
    private static partial void LogThrottled(ILogger logger, string client, int failures, int windowSeconds);
}
