using Microsoft.AspNetCore.Http.HttpResults;
using MindJourney.Api.Infrastructure;

namespace MindJourney.Api.Withdrawal;

/// <summary>An answer, upload, change or Play (by their panel ids) for a person who withdrew: refused (410), nothing
/// is written.</summary>
public sealed class PersonWithdrawnException() : Exception("The participant of this session withdrew.")
{
    /// <summary>The problem type a client tells a withdrawal apart by (the page shows its "withdrawn" screen).</summary>
    public const string ProblemType = "withdrawn";

    /// <summary>410 problem+json, type <c>/problems/withdrawn</c>.</summary>
    public static ProblemHttpResult Problem() => Problems.Create(StatusCodes.Status410Gone, "Withdrawn",
        "This participant withdrew: their data was erased and nothing more is recorded for them.", ProblemType);
}
