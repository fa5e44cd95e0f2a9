using System.ComponentModel.DataAnnotations;

namespace MindJourney.Api.Admin;

/// <summary>Settings under <c>MindJourney:RateLimit</c> for wrong admin keys: so many failures per client per window,
/// then every admin call from that client answers 429 until the window ends. A guessing defence, so it cannot be
/// turned off and no network is exempt from it.</summary>
public sealed class AdminAuthThrottleOptions
{
    public const string SectionName = "MindJourney:RateLimit";

    [Range(1, 10_000, ErrorMessage = "MindJourney:RateLimit:AdminFailuresPerWindow must be between {1} and {2}.")]
    public int AdminFailuresPerWindow { get; set; } = 10;

    [Range(1, 86_400, ErrorMessage = "MindJourney:RateLimit:AdminFailureWindowSeconds must be between {1} and {2}.")]
    public int AdminFailureWindowSeconds { get; set; } = 60;
}
