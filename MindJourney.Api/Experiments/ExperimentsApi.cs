using Microsoft.AspNetCore.Http.HttpResults;
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
            .WithRequestValidation();

        api.MapGet("/experiment", GetActiveExperiment).WithName("GetActiveExperiment");
        api.MapGet("/experiment/{id:guid}/levels", GetLevels).WithName("GetExperimentLevels");
        api.MapGet("/level/{id:guid}", GetLevel).WithName("GetLevel");

        return app;
    }

    public static async Task<Results<Ok<ExperimentSummary>, ProblemHttpResult>> GetActiveExperiment(
        MindJourneyDbContext db, CancellationToken cancellationToken)
    {
        var experiment = await db.Experiments.AsNoTracking()
            .Where(e => e.IsActive)
            .OrderByDescending(e => e.CreatedAt)
            .Select(e => new ExperimentSummary(e.Id, e.Title, e.Description, e.TotalLevels, e.IsActive, e.CreatedAt))
            .FirstOrDefaultAsync(cancellationToken);

        return experiment is null ? Problems.NotFound("No experiment is active.") : TypedResults.Ok(experiment);
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
