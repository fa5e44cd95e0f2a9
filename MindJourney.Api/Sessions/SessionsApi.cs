using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using MindJourney.Api.Data;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Responses;
using Npgsql;

namespace MindJourney.Api.Sessions;

public static class SessionsApi
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";
    public const int MaxBranchingPathLength = 2000;
    public const string BranchingPathTooLong = "branchingPath is longer than {1} characters.";

    public static IEndpointRouteBuilder MapSessionsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/session")
            .WithTags("Sessions")
            .WithMetadata(new RequestSizeLimitAttribute(RequestLimits.JsonBodyBytes))
            .WithRequestValidation();

        api.MapPost("/", CreateSession)
            .WithName("CreateSession")
            .WithSummary("Press Play: start a session and give the visitor their number")
            .RequireRateLimiting(RateLimiting.SessionCreationPolicy);

        // A session's own data: its secret (returned by CreateSession) or the admin key.
        var session = api.MapGroup("/{id:guid}").RequireSessionSecret();
        session.MapGet("", GetSession).WithName("GetSession").RequireRateLimiting(RateLimiting.ReadPolicy);
        session.MapPatch("", UpdateSession).WithName("UpdateSession")
            .WithSummary("Move a session through its levels; its identity and visitor number cannot change")
            .RequireRateLimiting(RateLimiting.SessionUpdatePolicy);
        session.MapGet("/responses", ListResponses).WithName("ListSessionResponses")
            .RequireRateLimiting(RateLimiting.ResponsePagePolicy);

        return app;
    }

    public static async Task<Results<Created<StartedSession>, ProblemHttpResult>> CreateSession(
        CreateSessionRequest request,
        [FromHeader(Name = IdempotencyKeyHeader), IdempotencyKey] string? idempotencyKey,
        VisitorNumberAssigner assigner,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        // Resuming a person takes proof of being them; without it the answer is the one for a person who does not
        // exist, so a userId learnt elsewhere neither opens their number nor tells that they exist.
        if (request.UserId is { } userId && !await SessionAccess.ProvesPersonAsync(http, userId))
        {
            return UnknownUser(userId);
        }

        var result = await assigner.StartSessionAsync(request.ExperimentId!.Value, request.UserId, request.CurrentLevel ?? 1,
            request.BranchingPath, request.SessionData, idempotencyKey, request.Mode ?? SessionModes.Live, cancellationToken);

        if (result.Session is not { } session)
        {
            return result.Error switch
            {
                StartSessionError.UserNotFound => UnknownUser(request.UserId!.Value),
                StartSessionError.ExperimentNotFound => Problems.NotFound(result.Detail!),
                StartSessionError.ExperimentInactive or StartSessionError.ModeMismatch => Problems.Conflict(result.Detail!),
                StartSessionError.IdempotencyKeyReused => Problems.UnprocessableEntity(result.Detail!),
                _ => Problems.BadRequest(result.Detail!),
            };
        }

        if (result.Replayed)
        {
            http.Response.Headers["Idempotent-Replayed"] = "true";
        }

        return TypedResults.Created($"/api/session/{session.Id}", StartedSession.Of(session, result.Secret));
    }

    private static ProblemHttpResult UnknownUser(Guid userId) => Problems.NotFound($"No user with id '{userId}'.");

    public static async Task<Results<Ok<SessionResponse>, ProblemHttpResult>> GetSession(
        Guid id, MindJourneyDbContext db, CancellationToken cancellationToken)
    {
        var session = await db.ExperimentSessions.AsNoTracking()
            .Where(s => s.Id == id)
            .Select(s => new { Session = s, s.Experiment!.TotalLevels })
            .FirstOrDefaultAsync(cancellationToken);

        return session is null
            ? Problems.NotFound($"No session with id '{id}'.")
            : TypedResults.Ok(ToResponse(session.Session, session.TotalLevels));
    }

    public static async Task<Results<Ok<SessionResponse>, ProblemHttpResult>> UpdateSession(
        Guid id, UpdateSessionRequest request, MindJourneyDbContext db, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var session = await db.ExperimentSessions.Include(s => s.Experiment).FirstOrDefaultAsync(s => s.Id == id, cancellationToken);
        if (session is null)
        {
            return Problems.NotFound($"No session with id '{id}'.");
        }

        var totalLevels = session.Experiment!.TotalLevels;
        if (request.CurrentLevel is { } level)
        {
            if (level < 1 || level > totalLevels)
            {
                return Problems.BadRequest($"currentLevel must be between 1 and {totalLevels}.");
            }

            session.CurrentLevel = level;
        }

        if (request.IsCompleted is { } completed)
        {
            // Turned in SQL with its condition's tally, so two PATCHes at once count one completion.
            await db.Database.ExecuteSqlRawAsync(ConditionSql.Complete,
                [new NpgsqlParameter<Guid>("id", id), new NpgsqlParameter<bool>("completed", completed)], cancellationToken);
            session.IsCompleted = completed;
        }

        if (request.BranchingPath is not null)
        {
            session.BranchingPath = request.BranchingPath;
        }

        if (request.SessionData is { } data)
        {
            session.SessionData = data.GetRawText();
        }

        session.UpdatedAt = DateTimeOffset.UtcNow;
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(ToResponse(session, totalLevels));
    }

    public const int DefaultResponsesPage = 100;
    public const int MaxResponsesPage = 500;

    /// <summary>One page of a session's responses, oldest first (the body stays a JSON array); when more follow,
    /// a <c>Link: &lt;…?after={last id}&gt;; rel="next"</c> header points at the next page. A page ends at its count
    /// or at <c>MindJourney:Responses:MaxPageBytes</c>, whichever comes first (<see cref="ResponsePages"/>).</summary>
    public static async Task<Results<ResponsePage, ProblemHttpResult>> ListResponses(
        Guid id, [Range(1, MaxResponsesPage, ErrorMessage = "limit must be between {1} and {2}.")] int? limit, Guid? after,
        ResponsePages pages, CancellationToken cancellationToken)
    {
        var page = await pages.ReadAsync(id, limit ?? DefaultResponsesPage, after, cancellationToken);
        return page.Outcome switch
        {
            ResponsePageOutcome.NoSession => Problems.NotFound($"No session with id '{id}'."),
            ResponsePageOutcome.BadCursor => Problems.BadRequest($"after must be the id of a response of session '{id}'."),
            _ => page,
        };
    }

    private static SessionResponse ToResponse(ExperimentSession s, int totalLevels) => new(
        s.Id, s.UserId, s.ExperimentId, s.VisitorNumber, s.Mode, s.Condition, s.ConditionOrder, s.CurrentLevel, totalLevels,
        SessionResponse.Percent(s.CurrentLevel, totalLevels, s.IsCompleted), s.BranchingPath, s.IsCompleted,
        s.CreatedAt, s.UpdatedAt);
}
