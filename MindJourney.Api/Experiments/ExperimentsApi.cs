using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using MindJourney.Api.Data;
using MindJourney.Api.Infrastructure;

namespace MindJourney.Api.Experiments;

public static class ExperimentsApi
{
    public static IEndpointRouteBuilder MapExperimentsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api")
            .WithTags("Experiments")
            .RequireRateLimiting(RateLimiting.ReadPolicy)
            .WithRequestValidation()
            .WithDatabaseDeadline();

        api.MapGet("/experiment", GetActiveExperiment).WithName("GetActiveExperiment");
        api.MapGet("/experiment/{id:guid}/levels", GetLevels).WithName("GetExperimentLevels");
        api.MapGet("/level/{id:guid}", GetLevel).WithName("GetLevel");

        return app;
    }

    /// <summary>Without <paramref name="study"/>, the most recently opened open study (the original platform's one
    /// active experiment); with it, that study for the page: an open one, or a draft one with its pilot token in
    /// <see cref="PilotTokens.Header"/> (else 409 study-not-open); a closed one takes no one new (409 study-closed).</summary>
    public static async Task<Results<Ok<ExperimentSummary>, ProblemHttpResult>> GetActiveExperiment(
        [StringLength(StudySlugs.MaxLength, ErrorMessage = "study is at most {1} characters.")] string? study,
        [FromHeader(Name = PilotTokens.Header)] string? pilotToken, MindJourneyDbContext db, PilotTokens pilots,
        CancellationToken cancellationToken)
    {
        var studies = db.Experiments.AsNoTracking();
        studies = study is null
            ? studies.Where(e => e.Status == StudyStatuses.Open).OrderByDescending(e => e.OpenedAt).ThenByDescending(e => e.CreatedAt)
            : studies.Where(e => e.Slug == study);
        var found = await studies
            .Select(e => new
            {
                Summary = new ExperimentSummary(e.Id, e.Title, e.Description, e.TotalLevels, e.Status == StudyStatuses.Open,
                    e.CreatedAt, e.Slug, e.Status, e.SonaParameter),
                e.PilotNonce,
            })
            .FirstOrDefaultAsync(cancellationToken);

        // A draft study opens only to its pilot link (the page sends the link's token in a header, not in a URL).
        var piloted = found is { Summary.Status: StudyStatuses.Draft } && pilots.Matches(pilotToken, found.Summary.Id, found.PilotNonce);
        var experiment = found?.Summary;
        return experiment switch
        {
            null when study is null => StudyProblems.NotFound("No study is open."),
            null => StudyProblems.NotFound($"No study has the slug '{study}'."),
            { Status: StudyStatuses.Draft } when !piloted => StudyProblems.NotOpen(experiment.Slug),
            { Status: StudyStatuses.Closed } => StudyProblems.Closed(experiment.Slug),
            _ => TypedResults.Ok(experiment),
        };
    }

    public static async Task<Results<Ok<List<LevelDetails>>, ProblemHttpResult>> GetLevels(
        Guid id, MindJourneyDbContext db, CancellationToken cancellationToken)
    {
        if (!await db.Experiments.AnyAsync(e => e.Id == id, cancellationToken))
        {
            return Problems.NotFound($"No experiment with id '{id}'.");
        }

        var levels = await db.ExperimentLevels.AsNoTracking()
            .Where(l => l.ExperimentId == id)
            .OrderBy(l => l.LevelNumber)
            .ToListAsync(cancellationToken);

        return TypedResults.Ok(levels.ConvertAll(LevelDetails.From));
    }

    public static async Task<Results<Ok<LevelDetails>, ProblemHttpResult>> GetLevel(
        Guid id, MindJourneyDbContext db, CancellationToken cancellationToken)
    {
        var level = await db.ExperimentLevels.AsNoTracking().FirstOrDefaultAsync(l => l.Id == id, cancellationToken);
        return level is null ? Problems.NotFound($"No level with id '{id}'.") : TypedResults.Ok(LevelDetails.From(level));
    }
}
