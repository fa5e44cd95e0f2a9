using System.ComponentModel.DataAnnotations;

namespace MindJourney.Api.Data;

/// <summary>Settings under <c>MindJourney:Database</c>: the sizes of the API's two connection pools. Why these
/// defaults: docs/BENCHMARKS.md.</summary>
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
}
