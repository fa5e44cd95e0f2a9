using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace MindJourney.LoadTests.Options;

/// <summary>What each iteration does.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ScenarioKind>))]
public enum ScenarioKind
{
    /// <summary>Play only: one POST /api/session per iteration.</summary>
    Session,

    /// <summary>A whole participant: experiment, session, levels, text answers, one upload, level moves to the end.</summary>
    Journey,
}

/// <summary>How load is offered.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LoadModel>))]
public enum LoadModel
{
    /// <summary>N virtual users, each running iterations back to back.</summary>
    Closed,

    /// <summary>A fixed arrival rate, independent of how fast the server answers.</summary>
    Open,
}

/// <summary>
/// Everything one run needs. CLI, config file and environment are layered and bound into one of these by
/// <see cref="OptionsResolver"/>; a test can also build one directly.
/// </summary>
public sealed partial record LoadTestOptions
{
    public const string DefaultApiUrl = "http://localhost:5000/api";
    public static readonly TimeSpan DefaultDuration = TimeSpan.FromSeconds(30);
    public static readonly IReadOnlyList<double> DefaultPercentiles = [50, 75, 95, 99, 99.9];

    /// <summary>Base URL of the API, including the <c>/api</c> prefix.</summary>
    public Uri ApiUrl { get; init; } = new(DefaultApiUrl);

    /// <summary>Closed model: number of virtual users. Open model: lower bound of the in-flight cap.</summary>
    public int Users { get; init; } = 10;

    /// <summary>Wall-clock bound of the load phase (ramp-up included).</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>Closed model: iterations per user. Open model: total arrivals.</summary>
    public int? Iterations { get; init; }

    /// <summary>Closed model: users start evenly over this time. Open model: the rate climbs linearly to <see cref="Rate"/>.</summary>
    public TimeSpan RampUp { get; init; } = TimeSpan.Zero;

    /// <summary>Load offered the same way for this long before the measured run, and left out of it: no figure
    /// counts it, and its sessions are made before the audit the checks start from. It keeps a fresh harness process's
    /// start (JIT, first connections) out of the tail it reports.</summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.Zero;

    /// <summary>Arrivals per second; set = open model.</summary>
    public double? Rate { get; init; }

    /// <summary>Open model: bound on iterations in flight; arrivals beyond it are dropped and counted.</summary>
    public int? MaxInFlight { get; init; }

    public ScenarioKind Scenario { get; init; } = ScenarioKind.Session;

    /// <summary>Where reports go; null = ./load-reports/&lt;timestamp&gt; (the CLI decides).</summary>
    public string? ReportDir { get; init; }

    public IReadOnlyList<double> Percentiles { get; init; } = DefaultPercentiles;

    public double? MaxP99Ms { get; init; }

    /// <summary>Fraction 0..1 of failed (incl. dropped) requests.</summary>
    public double? MaxErrorRate { get; init; }

    public double? MinRps { get; init; }

    /// <summary>Admin key for the audit and download checks. Never serialised, never printed.</summary>
    [JsonIgnore]
    public string? AdminKey { get; init; }

    public bool AllowRemote { get; init; }

    public bool AllowFallback { get; init; }

    public bool Quiet { get; init; }

    /// <summary>Per-request timeout (a timed-out request counts as failed with code "timeout").</summary>
    [ConfigurationKeyName("Timeout")]
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Journey: how many uploads are verified after the run.</summary>
    public int VerifySample { get; init; } = 20;

    /// <summary>Journey: the percentage (0–100) of answer and upload requests cut before their answer arrives, then
    /// retried with the same Idempotency-Key, as a flaky mobile network would.</summary>
    public double Flaky { get; init; }

    /// <summary>The study the virtual users Play in, by its slug (its link's <c>?study=</c>); resolved to its id once
    /// at start. Null: the most recently opened open study (<c>GET /api/experiment</c>).</summary>
    public string? Study { get; init; }

    /// <summary>With <see cref="Study"/>: a Play answered 409 <c>/problems/study-full</c> is an expected outcome,
    /// counted apart as refused, not as an error (a run that fills the study's cap).</summary>
    public bool ExpectFull { get; init; }

    [JsonIgnore]
    public LoadModel Model => Rate is null ? LoadModel.Closed : LoadModel.Open;

    /// <summary>The time bound in force: <see cref="Duration"/>, or 30 s when neither duration nor iterations is given.</summary>
    [JsonIgnore]
    public TimeSpan? EffectiveDuration => Duration ?? (Iterations is null ? DefaultDuration : null);

    /// <summary>Open model in-flight cap: <see cref="MaxInFlight"/>, else max(users, 2 × rate, 16).</summary>
    [JsonIgnore]
    public int EffectiveMaxInFlight =>
        MaxInFlight ?? Math.Max(Users, Math.Max(16, (int)Math.Ceiling((Rate ?? 0) * 2)));

    /// <summary>Connections the handler may open to the API; twice as many with <see cref="Flaky"/>, where a retry
    /// runs beside the attempt it abandoned.</summary>
    [JsonIgnore]
    public int ConnectionLimit => (Model == LoadModel.Open ? Math.Max(Users, EffectiveMaxInFlight) : Users) * (Flaky > 0 ? 2 : 1);

    /// <summary>Problems that make these options unusable (empty when fine).</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!ApiUrl.IsAbsoluteUri || (ApiUrl.Scheme != Uri.UriSchemeHttp && ApiUrl.Scheme != Uri.UriSchemeHttps))
        {
            errors.Add($"--api-url must be an absolute http(s) URL, got '{ApiUrl}'.");
        }
        else if (!AllowRemote && !LoopbackRule.IsLoopback(ApiUrl))
        {
            errors.Add($"--api-url host '{ApiUrl.Host}' is not loopback; "
                + "load is only sent to loopback (localhost, 127.0.0.0/8, ::1) unless --allow-remote is given.");
        }

        if (Users < 1)
        {
            errors.Add($"--users must be at least 1, got {Users}.");
        }

        if (Duration is { } d && d <= TimeSpan.Zero)
        {
            errors.Add("--duration must be positive.");
        }

        if (Iterations is < 1)
        {
            errors.Add($"--iterations must be at least 1, got {Iterations}.");
        }

        if (RampUp < TimeSpan.Zero)
        {
            errors.Add("--ramp-up must not be negative.");
        }

        if (WarmUp < TimeSpan.Zero)
        {
            errors.Add("--warm-up must not be negative.");
        }

        if (EffectiveDuration is { } ed && RampUp > ed)
        {
            errors.Add("--ramp-up must not be longer than --duration.");
        }

        if (Rate is { } r && (!double.IsFinite(r) || r <= 0))
        {
            errors.Add("--rate must be a positive number of arrivals per second.");
        }

        if (MaxInFlight is < 1)
        {
            errors.Add("--max-in-flight must be at least 1.");
        }

        if (!Enum.IsDefined(Scenario))
        {
            errors.Add($"--scenario must be session or journey, got {Scenario}.");
        }

        if (Percentiles.Count == 0 || Percentiles.Any(p => !double.IsFinite(p) || p <= 0 || p > 100))
        {
            errors.Add("--percentiles must be a list of numbers in (0, 100].");
        }

        if (MaxP99Ms is { } p99 && (!double.IsFinite(p99) || p99 <= 0))
        {
            errors.Add("--max-p99-ms must be positive.");
        }

        if (MaxErrorRate is { } er && (!double.IsFinite(er) || er < 0 || er > 1))
        {
            errors.Add("--max-error-rate must be a fraction 0..1 (or a percentage like 5%).");
        }

        if (MinRps is { } mr && (!double.IsFinite(mr) || mr < 0))
        {
            errors.Add("--min-rps must not be negative.");
        }

        if (RequestTimeout <= TimeSpan.Zero)
        {
            errors.Add("--timeout must be positive.");
        }

        if (VerifySample < 0)
        {
            errors.Add("--verify-sample must not be negative.");
        }

        if (!double.IsFinite(Flaky) || Flaky < 0 || Flaky > 100)
        {
            errors.Add("--flaky must be a percentage from 0 to 100.");
        }
        else if (Flaky > 0 && Scenario != ScenarioKind.Journey)
        {
            errors.Add("--flaky cuts answers and uploads, which only the journey scenario sends (add --scenario journey).");
        }

        if (Study is not null && !StudySlug().IsMatch(Study))
        {
            errors.Add($"--study must be a study's slug (3 to 64 of a-z, 0-9 and -, as in its link /?study=...), got '{Study}'.");
        }

        if (ExpectFull && Study is null)
        {
            errors.Add("--expect-full needs --study: the study whose cap the run is expected to fill.");
        }

        return errors;
    }

    /// <summary>Prints every setting except the admin key's value.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder("LoadTestOptions { ");
        sb.Append(CultureInfo.InvariantCulture, $"ApiUrl = {ApiUrl}, Users = {Users}, Duration = {Duration}, Iterations = {Iterations}, ");
        sb.Append(CultureInfo.InvariantCulture, $"RampUp = {RampUp}, WarmUp = {WarmUp}, Rate = {Rate}, MaxInFlight = {MaxInFlight}, ");
        sb.Append(CultureInfo.InvariantCulture, $"Scenario = {Scenario}, ");
        sb.Append(
            CultureInfo.InvariantCulture,
            $"ReportDir = {ReportDir}, "
            + $"Percentiles = [{string.Join(", ", Percentiles.Select(p => p.ToString(CultureInfo.InvariantCulture)))}], ");
        sb.Append(CultureInfo.InvariantCulture, $"MaxP99Ms = {MaxP99Ms}, MaxErrorRate = {MaxErrorRate}, MinRps = {MinRps}, ");
        sb.Append(
            CultureInfo.InvariantCulture,
            $"AdminKey = {(AdminKey is null ? "(none)" : "***")}, AllowRemote = {AllowRemote}, AllowFallback = {AllowFallback}, ");
        sb.Append(CultureInfo.InvariantCulture, $"Quiet = {Quiet}, RequestTimeout = {RequestTimeout}, VerifySample = {VerifySample}, ");
        sb.Append(CultureInfo.InvariantCulture, $"Flaky = {Flaky}, Study = {Study}, ExpectFull = {ExpectFull} }}");
        return sb.ToString();
    }

    // The API's slug rule (MindJourney.Api's StudySlugs): a typo fails here rather than as a 404 at start.
    [GeneratedRegex("^[a-z0-9-]{3,64}$")]
    private static partial Regex StudySlug();
}
