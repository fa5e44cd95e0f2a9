using System.Text.Json.Serialization;
using MindJourney.LoadTests.Checks;
using MindJourney.LoadTests.Options;

namespace MindJourney.LoadTests;

/// <summary>Everything a run found. Serialised whole into report.json.</summary>
public sealed record LoadTestResult
{
    public string Tool { get; init; } = "MindJourney.LoadTests";

    /// <summary>The options of the run (the admin key is never included).</summary>
    public required LoadTestOptions Options { get; init; }

    public bool AdminKeyProvided { get; init; }

    public LoadModel Model { get; init; }

    public ScenarioKind Scenario { get; init; }

    public DateTimeOffset StartedAt { get; init; }

    public DateTimeOffset FinishedAt { get; init; }

    /// <summary>Length of the load phase (setup and verification excluded).</summary>
    public double DurationSeconds { get; init; }

    /// <summary>True when the run was cancelled (Ctrl+C) before it finished; the run then never passes.</summary>
    public bool Interrupted { get; init; }

    /// <summary>Why the run could not be carried out (e.g. the API did not answer GET /experiment).</summary>
    public string? FatalError { get; init; }

    public required RunTotals Totals { get; init; }

    /// <summary>All requests of all steps together.</summary>
    public required LatencySummary AllRequests { get; init; }

    public IReadOnlyList<StepResult> Steps { get; init; } = [];

    /// <summary>One sample per second of the load phase.</summary>
    public IReadOnlyList<SecondSample> Series { get; init; } = [];

    public IReadOnlyList<CheckResult> Checks { get; init; } = [];

    public IReadOnlyList<ThresholdResult> Thresholds { get; init; } = [];

    public AuditSnapshot? AuditBefore { get; init; }

    public AuditSnapshot? AuditAfter { get; init; }

    /// <summary>The visitor numbers handed out in the run, sorted (fallback sessions excluded, see Totals).</summary>
    public IReadOnlyList<int> VisitorNumbers { get; init; } = [];

    /// <summary>With <c>--study</c>: the study's participant numbers handed out in the run, sorted.</summary>
    public IReadOnlyList<int> StudyNumbers { get; init; } = [];

    /// <summary>With <c>--study</c> and an admin key: the study as the admin API answered before and after the load.</summary>
    public StudySnapshot? StudyBefore { get; init; }

    public StudySnapshot? StudyAfter { get; init; }

    /// <summary>True only when there was no fatal error or interruption and every check and threshold passed.</summary>
    public bool Passed { get; init; }

    /// <summary>0 when passed, 1 otherwise (2, bad usage, is the CLI's).</summary>
    [JsonIgnore]
    public int ExitCode => Passed ? 0 : 1;
}

public sealed record RunTotals
{
    /// <summary>Ok + failed + refused.</summary>
    public long Requests { get; init; }
    public long Ok { get; init; }
    public long Failed { get; init; }

    /// <summary>Plays refused because the study is full, expected with <c>--expect-full</c>: not errors.</summary>
    public long Refused { get; init; }

    /// <summary>Open model: arrivals not started because the in-flight cap was reached.</summary>
    public long Dropped { get; init; }

    /// <summary>Requests cut short by the harness itself (interrupt or drain timeout); not counted as requests.</summary>
    public long Aborted { get; init; }

    public long IterationsOk { get; init; }
    public long IterationsFailed { get; init; }

    /// <summary>Requests (ok + failed) per second of the load phase.</summary>
    public double Rps { get; init; }

    /// <summary>(failed + dropped) / (requests + dropped): refused answers are not errors.</summary>
    public double ErrorRate { get; init; }

    public long SessionsCreated { get; init; }

    /// <summary>Sessions created with visitorNumber null (the API's fallback).</summary>
    public long FallbackSessions { get; init; }

    public long BytesSent { get; init; }
    public long BytesReceived { get; init; }

    /// <summary>Open model: the largest lateness of the arrival scheduler (already included in latencies).</summary>
    public double MaxScheduleLagMs { get; init; }
}

public sealed record StepResult
{
    public required string Name { get; init; }
    public long Requests { get; init; }
    public long Ok { get; init; }
    public long Failed { get; init; }

    /// <summary>Expected refusals (a full study's 409 with <c>--expect-full</c>), neither ok nor failed.</summary>
    public long Refused { get; init; }
    public double Rps { get; init; }
    public long BytesSent { get; init; }
    public long BytesReceived { get; init; }

    /// <summary>HTTP status codes ("201", "429", ...) and harness outcomes ("timeout", "transport_error", "invalid_response").</summary>
    public IReadOnlyDictionary<string, long> StatusCodes { get; init; } = new Dictionary<string, long>();

    /// <summary>
    /// Latency of every attempt (ok and failed). Open model: the first request of an iteration is measured from its
    /// scheduled start (coordinated-omission correction); closed model: from the moment it was sent.
    /// </summary>
    public required LatencySummary Latency { get; init; }

    /// <summary>Open model only: send-to-answer time, without the correction, to compare with <see cref="Latency"/>.</summary>
    public LatencySummary? ServiceTime { get; init; }
}

public sealed record LatencySummary
{
    public long Count { get; init; }
    public double MinMs { get; init; }
    public double MeanMs { get; init; }
    public double MaxMs { get; init; }
    public double StdDevMs { get; init; }
    public IReadOnlyList<PercentileValue> Percentiles { get; init; } = [];

    public static LatencySummary Empty(IEnumerable<double> percentiles) =>
        new() { Percentiles = percentiles.Select(p => new PercentileValue(p, 0)).ToArray() };

    /// <summary>The value at <paramref name="percentile"/> if it was asked for, else null.</summary>
    public double? At(double percentile) =>
        Percentiles.FirstOrDefault(p => p.Percentile.Equals(percentile)) is { } v ? v.Ms : null;
}

public sealed record PercentileValue(double Percentile, double Ms);

public sealed record SecondSample
{
    /// <summary>Seconds since the load phase started, at the end of this sample.</summary>
    public double ElapsedSeconds { get; init; }

    /// <summary>Ok + failed + refused.</summary>
    public long Requests { get; init; }
    public long Ok { get; init; }
    public long Failed { get; init; }

    /// <summary>Expected refusals (a full study's 409 with <c>--expect-full</c>), neither ok nor failed.</summary>
    public long Refused { get; init; }
    public long Dropped { get; init; }

    /// <summary>Requests (refused included) per second of the sample.</summary>
    public double Rps { get; init; }
    public double P50Ms { get; init; }
    public double P99Ms { get; init; }
    public double MaxMs { get; init; }
    public long InFlight { get; init; }
}

public sealed record ThresholdResult(string Name, double Limit, double Actual, bool Passed, string Detail);

/// <summary>What the live display shows each second.</summary>
public sealed record LiveStats(
    TimeSpan Elapsed,
    long Requests,
    double Rps,
    long Failed,
    long Dropped,
    double CurrentP99Ms,
    long InFlight,
    long SessionsCreated);
