using System.ComponentModel.DataAnnotations;

namespace MindJourney.Api.Responses;

/// <summary>Settings under <c>MindJourney:Responses</c>: how answers are recorded together, and how a session's answers
/// are read back.</summary>
public sealed class ResponsesOptions
{
    public const string SectionName = "MindJourney:Responses";

    /// <summary>Largest body one page of <c>GET /api/session/{id}/responses</c> may have: the page ends before the
    /// answer that would take it past this, and its <c>Link</c> continues from there. An answer larger than this on
    /// its own still makes a page of one, so the list always moves on.</summary>
    [Range(64 * 1024, 256L * 1024 * 1024, ErrorMessage = "MindJourney:Responses:MaxPageBytes must be between {1} and {2}.")]
    public long MaxPageBytes { get; set; } = 4L * 1024 * 1024;

    /// <summary>Answers one statement records at most (<see cref="AnswerBatcher"/>). A larger batch makes its first
    /// answer wait longer.</summary>
    [Range(1, 1000, ErrorMessage = "MindJourney:Responses:MaxBatchSize must be between {1} and {2}.")]
    public int MaxBatchSize { get; set; } = 64;

    /// <summary>Answer statements one instance has in flight at once; each holds a database connection.</summary>
    [Range(1, 100, ErrorMessage = "MindJourney:Responses:MaxStatementsInFlight must be between {1} and {2}.")]
    public int MaxStatementsInFlight { get; set; } = 2;
}
