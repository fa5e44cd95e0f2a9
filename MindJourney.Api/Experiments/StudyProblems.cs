using Microsoft.AspNetCore.Http.HttpResults;
using MindJourney.Api.Infrastructure;

namespace MindJourney.Api.Experiments;

/// <summary>The refusals a study gives, each with its own problem <c>type</c> (under <c>/problems/</c>) so that the
/// page and a researcher's script can tell them apart without reading the text.</summary>
public static class StudyProblems
{
    public const string NotFoundType = "study-not-found";
    public const string FullType = "study-full";
    public const string NotOpenType = "study-not-open";
    public const string ClosedType = "study-closed";
    public const string SlugTakenType = "slug-taken";
    public const string StartedType = "study-started";
    public const string PilotTokenType = "pilot-token-invalid";

    public static ProblemHttpResult NotFound(string detail) =>
        Problems.Create(StatusCodes.Status404NotFound, "Study not found", detail, NotFoundType);

    public static ProblemHttpResult Full(string slug) => Problems.Create(StatusCodes.Status409Conflict, "This study is full",
        $"Study '{slug}' has all the participants it needs: thank you for your interest.", FullType);

    public static ProblemHttpResult NotOpen(string slug) => Problems.Create(StatusCodes.Status409Conflict,
        "This study has not started yet", $"Study '{slug}' is not open to participants yet.", NotOpenType);

    public static ProblemHttpResult Closed(string slug) => Problems.Create(StatusCodes.Status409Conflict, "This study is closed",
        $"Study '{slug}' is closed: it takes no new participants.", ClosedType);

    public static ProblemHttpResult SlugTaken(string slug) => Problems.Create(StatusCodes.Status409Conflict, "Slug taken",
        $"Another study already has the slug '{slug}': choose another.", SlugTakenType);

    /// <summary>A change the study's live people forbid (its levels, its slug, a cap below them).</summary>
    public static ProblemHttpResult Started(string detail) =>
        Problems.Create(StatusCodes.Status409Conflict, "The study has participants", detail, StartedType);

    public static ProblemHttpResult PilotToken() => Problems.Create(StatusCodes.Status403Forbidden, "Pilot token required",
        "A pilot needs the study's current pilot token (pilotToken, from the study's pilotUrl).", PilotTokenType);
}
