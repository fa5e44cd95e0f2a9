using System.Globalization;
using MindJourney.LoadTests.Options;

namespace MindJourney.LoadTests.Checks;

/// <summary>The user's pass/fail limits: --max-p99-ms, --max-error-rate, --min-rps.</summary>
public static class ThresholdEvaluator
{
    /// <param name="p99Ms">p99 of all requests (corrected latency in the open model).</param>
    /// <param name="errorRate">(failed + dropped) / (requests + dropped).</param>
    /// <param name="successfulRps">Successful requests per second.</param>
    public static IReadOnlyList<ThresholdResult> Evaluate(LoadTestOptions options, double p99Ms, double errorRate, double successfulRps)
    {
        ArgumentNullException.ThrowIfNull(options);
        var results = new List<ThresholdResult>();
        if (options.MaxP99Ms is { } maxP99)
        {
            results.Add(new ThresholdResult("max_p99_ms", maxP99, p99Ms, p99Ms <= maxP99,
                F($"p99 of all requests {p99Ms:0.###} ms {(p99Ms <= maxP99 ? "<=" : ">")} {maxP99:0.###} ms")));
        }

        if (options.MaxErrorRate is { } maxErr)
        {
            results.Add(new ThresholdResult("max_error_rate", maxErr, errorRate, errorRate <= maxErr,
                F($"error rate {errorRate:P3} {(errorRate <= maxErr ? "<=" : ">")} {maxErr:P3} (failed + dropped over all attempts)")));
        }

        if (options.MinRps is { } minRps)
        {
            results.Add(new ThresholdResult("min_rps", minRps, successfulRps, successfulRps >= minRps,
                F($"successful requests/s {successfulRps:0.##} {(successfulRps >= minRps ? ">=" : "<")} {minRps:0.##}")));
        }

        return results;
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
