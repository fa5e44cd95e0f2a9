using System.ComponentModel.DataAnnotations;

namespace MindJourney.Api.Data;

/// <summary>Settings under <c>MindJourney:Database</c>: the sizes of the API's two connection pools (why these
/// defaults: docs/BENCHMARKS.md), and how long a participant's request waits for the database.</summary>
public sealed class DatabaseOptions
{
    public const string SectionName = "MindJourney:Database";

    /// <summary>Connections one API instance keeps to PostgreSQL unless told otherwise.</summary>
    public const int DefaultMaxPoolSize = 16;

    /// <summary>Connections of the bulk pool (uploads' COPY, downloads, deliveries) unless told otherwise.</summary>
    public const int DefaultBulkMaxPoolSize = 2;

    /// <summary>The main pool. A connection string that names its own <c>Maximum Pool Size</c> wins.</summary>
    [Range(1, 1000, ErrorMessage = "MindJourney:Database:MaxPoolSize must be between {1} and {2}.")]
    public int MaxPoolSize { get; set; } = DefaultMaxPoolSize;

    /// <summary>The bulk pool (<see cref="Storage.BulkDataSource"/>).</summary>
    [Range(1, 1000, ErrorMessage = "MindJourney:Database:BulkMaxPoolSize must be between {1} and {2}.")]
    public int BulkMaxPoolSize { get; set; } = DefaultBulkMaxPoolSize;

    /// <summary>How long a participant's request (Play, an answer, an upload's database steps, the reads and a
    /// session's PATCH) waits for the database before it is answered 503 (<see cref="Infrastructure.DatabaseDeadline"/>);
    /// its statement, once sent, still runs to its end.</summary>
    [Range(0.5, 300, ErrorMessage = "MindJourney:Database:RequestDeadlineSeconds must be between {1} and {2}.")]
    public double RequestDeadlineSeconds { get; set; } = 10;
}
