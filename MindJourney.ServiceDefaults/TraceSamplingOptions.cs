using System.ComponentModel.DataAnnotations;

namespace Microsoft.Extensions.Hosting;

/// <summary>Settings under <c>MindJourney:Telemetry</c>: which traces are exported (<see cref="TraceSampling"/>).</summary>
public sealed class TraceSamplingOptions
{
    public const string SectionName = "MindJourney:Telemetry";

    /// <summary>The share of traces exported: 1 all, 0 none but the notable ones.</summary>
    [Range(0.0, 1.0, ErrorMessage = TraceSampling.RatioSetting + " must be between {1} and {2}.")]
    public double TraceSampleRatio { get; set; } = TraceSampling.DefaultRatio;

    /// <summary>Traces picked a second at most; unset: no bound.</summary>
    [Range(1, int.MaxValue, ErrorMessage = TraceSampling.MaxPerSecondSetting + " must be a positive number of traces.")]
    public int? MaxTracesPerSecond { get; set; }
}
