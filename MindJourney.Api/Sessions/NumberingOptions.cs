using System.ComponentModel.DataAnnotations;

namespace MindJourney.Api.Sessions;

/// <summary>Settings under <c>MindJourney:Numbering</c>. Their defaults are chosen in docs/BENCHMARKS.md.</summary>
public sealed class NumberingOptions
{
    public const string SectionName = "MindJourney:Numbering";

    /// <summary>New visitors one statement numbers at most. A larger batch makes its first request wait longer.</summary>
    [Range(1, 1000, ErrorMessage = "MindJourney:Numbering:MaxBatchSize must be between {1} and {2}.")]
    public int MaxBatchSize { get; set; } = 64;

    /// <summary>Numbering statements one instance has in flight at once. One keeps the numbers of one instance in
    /// arrival order across batches. Each statement in flight holds a database connection.</summary>
    [Range(1, 100, ErrorMessage = "MindJourney:Numbering:MaxStatementsInFlight must be between {1} and {2}.")]
    public int MaxStatementsInFlight { get; set; } = 1;
}
