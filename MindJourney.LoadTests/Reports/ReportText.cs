using System.Globalization;
using MindJourney.LoadTests.Checks;
using MindJourney.LoadTests.Options;

namespace MindJourney.LoadTests.Reports;

/// <summary>Wording and number formats shared by every report and the console.</summary>
public static class ReportText
{
    public static string Ms(double ms) => ms.ToString(ms >= 100 ? "0.0" : "0.000", CultureInfo.InvariantCulture);

    public static string Num(double v, string format = "0.##") => v.ToString(format, CultureInfo.InvariantCulture);

    public static string Int(long v) => v.ToString(CultureInfo.InvariantCulture);

    public static string Percentile(double p) => "p" + p.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>p99.9 → p99_9 (for CSV column names).</summary>
    public static string PercentileColumn(double p) => Percentile(p).Replace('.', '_') + "_ms";

    public static string Bytes(long bytes) => bytes switch
    {
        < 1024 => $"{Int(bytes)} B",
        < 1024 * 1024 => $"{Num(bytes / 1024.0, "0.0")} KiB",
        _ => $"{Num(bytes / (1024.0 * 1024), "0.0")} MiB",
    };

    public static string Verdict(LoadTestResult result) => result.Passed ? "PASSED" : "FAILED";

    public static string Outcome(CheckOutcome outcome) => outcome switch
    {
        CheckOutcome.Passed => "passed",
        CheckOutcome.Failed => "FAILED",
        _ => "skipped",
    };

    public static string StatusCodes(IReadOnlyDictionary<string, long> codes) =>
        codes.Count == 0 ? "-" : string.Join(" ", codes.Select(kv => $"{kv.Key}:{Int(kv.Value)}"));

    /// <summary>One line that says what was run.</summary>
    public static string Setup(LoadTestResult r)
    {
        var o = r.Options;
        var load = r.Model == LoadModel.Open
            ? $"open model, {Num(o.Rate ?? 0)} arrivals/s, in-flight cap {Int(o.EffectiveMaxInFlight)}"
            : $"closed model, {Int(o.Users)} users";
        if (o.RampUp > TimeSpan.Zero)
        {
            load += $", ramp-up {ValueParsers.FormatDuration(o.RampUp)}";
        }

        if (o.WarmUp > TimeSpan.Zero)
        {
            load += $", after a {ValueParsers.FormatDuration(o.WarmUp)} warm-up";
        }

        var bound = (o.EffectiveDuration, o.Iterations) switch
        {
            ({ } d, { } i) => $"{ValueParsers.FormatDuration(d)} or {Int(i)} iterations"
                + $"{(r.Model == LoadModel.Open ? " in total" : " per user")}",
            ({ } d, null) => ValueParsers.FormatDuration(d),
            (null, { } i) => $"{Int(i)} iterations{(r.Model == LoadModel.Open ? " in total" : " per user")}",
            _ => "-",
        };
        var study = o.Study is null ? "" : $", study {o.Study}{(o.ExpectFull ? " (expected to fill: --expect-full)" : "")}";
        return $"scenario {o.Scenario.ToString().ToLowerInvariant()}, {load}, bound {bound}{study}";
    }

    /// <summary>With <c>--expect-full</c>: how many Plays the full study refused, which are not errors; else null.</summary>
    public static string? Refusals(LoadTestResult r) => r.Options.ExpectFull
        ? $"{Int(r.Totals.Refused)} Plays refused because the study is full (409 /problems/study-full): expected with --expect-full, "
            + "counted apart, not errors"
        : null;

    /// <summary>What the latency figures mean in this run.</summary>
    public static string LatencyNote(LoadTestResult r) => r.Model == LoadModel.Open
        ? "Latency covers every attempt (ok and failed). "
            + "Open model: the first request of each arrival is measured from its scheduled start "
            + "(coordinated-omission corrected); service time is send-to-answer without the correction. "
            + "Values from HdrHistogram (µs resolution, 3 significant digits)."
        : "Latency covers every attempt (ok and failed), measured from send to the last byte of the answer. "
            + "Values from HdrHistogram (µs resolution, 3 significant digits).";
}
