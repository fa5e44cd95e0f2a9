using System.ComponentModel.DataAnnotations;

namespace MindJourney.Api.Infrastructure;

/// <summary>Settings under <c>MindJourney:RateLimit</c>: how many requests of each kind one client (an IPv4 address,
/// or an IPv6 /64, as the trusted proxies let it be known) may send per window. <c>0</c> turns a limit off (load
/// tests). <c>ExemptNetworks</c> (CIDR ranges, a list or one comma-separated value; none by default) names clients
/// that skip every window, for a lab whose participants share one address.</summary>
public sealed class RateLimitOptions
{
    public const string SectionName = "MindJourney:RateLimit";

    /// <summary>Sessions (visitor numbers) started, so a script cannot burn thousands of numbers.</summary>
    [Range(0, 1_000_000, ErrorMessage = "MindJourney:RateLimit:SessionsPerWindow must be between {1} (off) and {2}.")]
    public int SessionsPerWindow { get; set; } = 30;

    /// <summary>Answers recorded (JSON or uploads): a participant gives a few per minute at most.</summary>
    [Range(0, 1_000_000, ErrorMessage = "MindJourney:RateLimit:ResponsesPerWindow must be between {1} (off) and {2}.")]
    public int ResponsesPerWindow { get; set; } = 120;

    /// <summary>Files and texts read back.</summary>
    [Range(0, 1_000_000, ErrorMessage = "MindJourney:RateLimit:DownloadsPerWindow must be between {1} (off) and {2}.")]
    public int DownloadsPerWindow { get; set; } = 60;

    /// <summary>Reads of the experiment, its levels and a session (<c>GET /api/experiment*</c>, <c>/api/level/*</c>,
    /// <c>/api/session/{id}</c>): a page load makes two or three, a level at most one more.</summary>
    [Range(0, 1_000_000, ErrorMessage = "MindJourney:RateLimit:ReadsPerWindow must be between {1} (off) and {2}.")]
    public int ReadsPerWindow { get; set; } = 120;

    /// <summary>Session updates (<c>PATCH /api/session/{id}</c>): one per level moved, and the completion.</summary>
    [Range(0, 1_000_000, ErrorMessage = "MindJourney:RateLimit:SessionUpdatesPerWindow must be between {1} (off) and {2}.")]
    public int SessionUpdatesPerWindow { get; set; } = 60;

    /// <summary>Pages of a session's answer list (<c>GET /api/session/{id}/responses</c>): the heaviest read, which
    /// the participant page never makes.</summary>
    [Range(0, 1_000_000, ErrorMessage = "MindJourney:RateLimit:ResponsePagesPerWindow must be between {1} (off) and {2}.")]
    public int ResponsePagesPerWindow { get; set; } = 30;

    [Range(1, 86_400, ErrorMessage = "MindJourney:RateLimit:WindowSeconds must be between {1} and {2}.")]
    public int WindowSeconds { get; set; } = 60;
}
