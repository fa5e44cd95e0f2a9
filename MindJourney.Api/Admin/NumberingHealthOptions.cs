using System.ComponentModel.DataAnnotations;

namespace MindJourney.Api.Admin;

/// <summary>Settings under <c>MindJourney:Health</c>: what the numbering health check looks at, and how often.</summary>
public sealed class NumberingHealthOptions
{
    public const string SectionName = "MindJourney:Health";

    /// <summary>An upload still pending after this long turns the API Degraded.</summary>
    [Range(0, 10_080, ErrorMessage = "MindJourney:Health:PendingUploadMaxAgeMinutes must be between {1} and {2}.")]
    public double PendingUploadMaxAgeMinutes { get; set; } = 15;

    /// <summary>The newest numbers whose sessions and responses each look checks: what is being handed out now. The
    /// admin audit covers the rest.</summary>
    [Range(1, 100_000_000, ErrorMessage = "MindJourney:Health:RecentNumbers must be between {1} and {2}.")]
    public long RecentNumbers { get; set; } = 10_000;

    /// <summary>How long one look at the numbering stands for every probe (the /health report itself is cached for
    /// one second): the database is asked at most this often.</summary>
    [Range(0, 3600, ErrorMessage = "MindJourney:Health:CheckIntervalSeconds must be between {1} and {2}.")]
    public double CheckIntervalSeconds { get; set; } = 5;
}
