using System.ComponentModel.DataAnnotations;

namespace MindJourney.Api.Sessions;

/// <summary>Settings under <c>MindJourney:WarmUp</c>: the numbering warm-up that runs before /health turns Healthy
/// (<see cref="NumberingWarmUp"/>). What it saves: docs/BENCHMARKS.md.</summary>
public sealed class WarmUpOptions
{
    public const string SectionName = "MindJourney:WarmUp";

    /// <summary>Off, the API reports Healthy as soon as it has started and meets its first load cold.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The longest the warm-up may hold /health back. Past it the API reports its real health, warm or not.</summary>
    [Range(1, 600, ErrorMessage = "MindJourney:WarmUp:TimeoutSeconds must be between {1} and {2}.")]
    public int TimeoutSeconds { get; set; } = 30;
}
