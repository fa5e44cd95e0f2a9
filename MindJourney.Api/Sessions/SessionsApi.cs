using System.Text.Json;
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
    private const int MaxIdempotencyKeyLength = 200;
    private const int MaxBranchingPathLength = 2000;

    public static IEndpointRouteBuilder MapSessionsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/session")
            .WithTags("Sessions")
            .WithMetadata(new RequestSizeLimitAttribute(RequestLimits.JsonBodyBytes));

        api.MapPost("/", CreateSession)
            .WithName("CreateSession")
            .WithSummary("Press Play: start a session and give the visitor their number")
            .RequireRateLimiting(RateLimiting.SessionCreationPolicy);

        // A session's own data: its secret (returned by CreateSession) or the admin key.
        var session = api.MapGroup("/{id:guid}").RequireSessionSecret();
        session.MapGet("", GetSession).WithName("GetSession");
        session.MapPatch("", UpdateSession).WithName("UpdateSession")
            .WithSummary("Move a session through its levels; its identity and visitor number cannot change");
        session.MapGet("/responses", ListResponses).WithName("ListSessionResponses");

        return app;
    }

    public static async Task<Results<Created<SessionResponse>, ProblemHttpResult>> CreateSession(
        CreateSessionRequest request,
        [FromHeader(Name = IdempotencyKeyHeader)] string? idempotencyKey,
        VisitorNumberAssigner assigner,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        if (request.ExperimentId is not { } experimentId || experimentId == Guid.Empty)
        {
            return Problems.BadRequest("experimentId is required.");
        }

        if (request.CurrentLevel is < 1)
        {
            return Problems.BadRequest("currentLevel must be 1 or more.");
        }

        if (request.Mode is not (null or SessionModes.Live or SessionModes.Pilot))
        {
            return Problems.BadRequest($"mode must be '{SessionModes.Live}' (the default) or '{SessionModes.Pilot}'.");
        }

        if (StoredFieldsProblem(request.BranchingPath, request.SessionData) is { } stored)
        {
            return stored;
        }

        // Several values arrive as one comma-joined line: which one is the key cannot be told, so neither is.
        if (idempotencyKey is not null && (idempotencyKey.Length is 0 or > MaxIdempotencyKeyLength || idempotencyKey.Any(char.IsControl)
            || idempotencyKey.Contains(',', StringComparison.Ordinal)))
        {
            return Problems.BadRequest(
                $"Send one {IdempotencyKeyHeader} header of 1 to {MaxIdempotencyKeyLength} printable characters, without commas.");
        }

        var result = await assigner.StartSessionAsync(experimentId, request.UserId, request.CurrentLevel ?? 1,
            request.BranchingPath, request.SessionData, idempotencyKey, request.Mode ?? SessionModes.Live, cancellationToken);

        if (result.Session is not { } session)
        {
            return result.Error switch
            {
                StartSessionError.ExperimentNotFound or StartSessionError.UserNotFound => Problems.NotFound(result.Detail!),
                StartSessionError.ExperimentInactive or StartSessionError.ModeMismatch => Problems.Conflict(result.Detail!),
                StartSessionError.IdempotencyKeyReused => Problems.UnprocessableEntity(result.Detail!),
                _ => Problems.BadRequest(result.Detail!),
            };
        }

        if (result.Replayed)
        {
            http.Response.Headers["Idempotent-Replayed"] = "true";
        }

        return TypedResults.Created($"/api/session/{session.Id}", session with { SessionSecret = result.Secret });
    }

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
        var identity = new[]
        {
            ("visitorNumber", request.VisitorNumber), ("userId", request.UserId), ("id", request.Id),
            ("experimentId", request.ExperimentId),
        };
        foreach (var (name, value) in identity)
        {
            if (value.ValueKind != JsonValueKind.Undefined)
            {
                return Problems.BadRequest($"{name} cannot be changed.");
            }
        }

        if (StoredFieldsProblem(request.BranchingPath, request.SessionData) is { } stored)
        {
            return stored;
        }

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
    /// a <c>Link: &lt;…?after={last id}&gt;; rel="next"</c> header points at the next page.</summary>
    public static async Task<Results<Ok<List<ResponseDetails>>, ProblemHttpResult>> ListResponses(
        Guid id, int? limit, Guid? after, HttpContext http, MindJourneyDbContext db, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > MaxResponsesPage)
        {
            return Problems.BadRequest($"limit must be between 1 and {MaxResponsesPage}.");
        }

        if (!await db.ExperimentSessions.AnyAsync(s => s.Id == id, cancellationToken))
        {
            return Problems.NotFound($"No session with id '{id}'.");
        }

        var query = db.ExperimentResponses.AsNoTracking().Where(r => r.SessionId == id);
        if (after is { } afterId)
        {
            var cursor = await db.ExperimentResponses.AsNoTracking()
                .Where(r => r.Id == afterId && r.SessionId == id)
                .Select(r => (DateTimeOffset?)r.CreatedAt)
                .FirstOrDefaultAsync(cancellationToken);
            if (cursor is not { } createdAt)
            {
                return Problems.BadRequest($"after must be the id of a response of session '{id}'.");
            }

            query = query.Where(r => EF.Functions.GreaterThan(ValueTuple.Create(r.CreatedAt, r.Id), ValueTuple.Create(createdAt, afterId)));
        }

        var pageSize = limit ?? DefaultResponsesPage;
        var responses = await query.OrderBy(r => r.CreatedAt).ThenBy(r => r.Id).Take(pageSize + 1).ToListAsync(cancellationToken);
        if (responses.Count > pageSize)
        {
            responses.RemoveAt(pageSize);
            http.Response.Headers.Link = $"</api/session/{id}/responses?limit={pageSize}&after={responses[^1].Id}>; rel=\"next\"";
        }

        return TypedResults.Ok(responses.ConvertAll(ResponseDetails.From));
    }

    /// <summary>The fields a session stores as the client sent them: refused here, before the database (where
    /// PostgreSQL's refusal would look like a numbering failure).</summary>
    private static ProblemHttpResult? StoredFieldsProblem(string? branchingPath, JsonElement? sessionData)
    {
        if (branchingPath is { Length: > MaxBranchingPathLength })
        {
            return Problems.BadRequest($"branchingPath is longer than {MaxBranchingPathLength} characters.");
        }

        var problem = StoredInput.TextProblem(branchingPath, "branchingPath")
            ?? (sessionData is { } data ? StoredInput.JsonProblem(data, "sessionData") : null);
        return problem is null ? null : Problems.BadRequest(problem);
    }

    private static SessionResponse ToResponse(ExperimentSession s, int totalLevels) => new(
        s.Id, s.UserId, s.ExperimentId, s.VisitorNumber, s.Mode, s.Condition, s.ConditionOrder, s.CurrentLevel, totalLevels,
        SessionResponse.Percent(s.CurrentLevel, totalLevels, s.IsCompleted), s.BranchingPath, s.IsCompleted,
        s.CreatedAt, s.UpdatedAt);
}
