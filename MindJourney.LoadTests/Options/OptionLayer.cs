namespace MindJourney.LoadTests.Options;

/// <summary>
/// The settings one source (environment, config file or command line) gives; null = "not given here".
/// Layers are stacked with <see cref="OverriddenBy"/>: CLI over file over environment over defaults.
/// </summary>
public sealed record OptionLayer
{
    public Uri? ApiUrl { get; init; }
    public int? Users { get; init; }
    public TimeSpan? Duration { get; init; }
    public int? Iterations { get; init; }
    public TimeSpan? RampUp { get; init; }
    public double? Rate { get; init; }
    public int? MaxInFlight { get; init; }
    public ScenarioKind? Scenario { get; init; }
    public string? ReportDir { get; init; }
    public IReadOnlyList<double>? Percentiles { get; init; }
    public double? MaxP99Ms { get; init; }
    public double? MaxErrorRate { get; init; }
    public double? MinRps { get; init; }
    public string? AdminKey { get; init; }
    public bool? AllowRemote { get; init; }
    public bool? AllowFallback { get; init; }
    public bool? Quiet { get; init; }
    public TimeSpan? Timeout { get; init; }
    public int? VerifySample { get; init; }

    public static OptionLayer Empty { get; } = new();

    /// <summary>This layer with every value that <paramref name="higher"/> gives replaced by it.</summary>
    public OptionLayer OverriddenBy(OptionLayer higher)
    {
        ArgumentNullException.ThrowIfNull(higher);
        return new OptionLayer
        {
            ApiUrl = higher.ApiUrl ?? ApiUrl,
            Users = higher.Users ?? Users,
            Duration = higher.Duration ?? Duration,
            Iterations = higher.Iterations ?? Iterations,
            RampUp = higher.RampUp ?? RampUp,
            Rate = higher.Rate ?? Rate,
            MaxInFlight = higher.MaxInFlight ?? MaxInFlight,
            Scenario = higher.Scenario ?? Scenario,
            ReportDir = higher.ReportDir ?? ReportDir,
            Percentiles = higher.Percentiles ?? Percentiles,
            MaxP99Ms = higher.MaxP99Ms ?? MaxP99Ms,
            MaxErrorRate = higher.MaxErrorRate ?? MaxErrorRate,
            MinRps = higher.MinRps ?? MinRps,
            AdminKey = higher.AdminKey ?? AdminKey,
            AllowRemote = higher.AllowRemote ?? AllowRemote,
            AllowFallback = higher.AllowFallback ?? AllowFallback,
            Quiet = higher.Quiet ?? Quiet,
            Timeout = higher.Timeout ?? Timeout,
            VerifySample = higher.VerifySample ?? VerifySample,
        };
    }

    /// <summary>The options these settings make, defaults filling what no layer gave.</summary>
    public LoadTestOptions ToOptions()
    {
        var d = new LoadTestOptions();
        return new LoadTestOptions
        {
            ApiUrl = ApiUrl ?? d.ApiUrl,
            Users = Users ?? d.Users,
            Duration = Duration,
            Iterations = Iterations,
            RampUp = RampUp ?? d.RampUp,
            Rate = Rate,
            MaxInFlight = MaxInFlight,
            Scenario = Scenario ?? d.Scenario,
            ReportDir = ReportDir,
            Percentiles = Percentiles is null ? d.Percentiles : ValueParsers.NormalisePercentiles(Percentiles),
            MaxP99Ms = MaxP99Ms,
            MaxErrorRate = MaxErrorRate,
            MinRps = MinRps,
            AdminKey = string.IsNullOrEmpty(AdminKey) ? null : AdminKey,
            AllowRemote = AllowRemote ?? false,
            AllowFallback = AllowFallback ?? false,
            Quiet = Quiet ?? false,
            RequestTimeout = Timeout ?? d.RequestTimeout,
            VerifySample = VerifySample ?? d.VerifySample,
        };
    }

    /// <summary>Prints the layer without the admin key's value.</summary>
    public override string ToString() =>
        $"OptionLayer {{ ApiUrl = {ApiUrl}, Users = {Users}, Duration = {Duration}, Iterations = {Iterations}, Rate = {Rate}, Scenario = {Scenario}, AdminKey = {(AdminKey is null ? "(none)" : "***")} }}";
}
