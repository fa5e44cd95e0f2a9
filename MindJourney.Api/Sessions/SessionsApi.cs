using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using MindJourney.Api.Data;
using MindJourney.Api.Experiments;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Telemetry;
using Npgsql;

namespace MindJourney.Api.Sessions;

public static class SessionsApi
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    /// <summary>Set on the answer to a replayed Idempotency-Key (a Play's or an answer's).</summary>
    public const string IdempotentReplayedHeader = "Idempotent-Replayed";
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

        // A session's own data: its secret (returned by CreateSession) or the admin key. Its reads and PATCH wait for the
        // database at most the deadline; a withdrawal, which also waits for storage, does not.
        var session = api.MapGroup("/{id:guid}").RequireSessionSecret();
        session.MapGet("", GetSession).WithName("GetSession").RequireRateLimiting(RateLimiting.ReadPolicy).WithDatabaseDeadline();
        session.MapPatch("", UpdateSession).WithName("UpdateSession").WithDatabaseDeadline()
            .WithSummary("Move a session through its levels; its identity and visitor number cannot change")
            .RequireRateLimiting(RateLimiting.SessionUpdatePolicy);
        session.MapDelete("", Withdrawal.WithdrawalApi.WithdrawSessionPerson).WithName("WithdrawSessionPerson")
            .WithSummary("The participant withdraws: their whole person's data is erased, their visitor number kept")
            .RequireRateLimiting(RateLimiting.SessionUpdatePolicy);

        return app;
    }

    public static async Task<Results<Created<StartedSession>, ProblemHttpResult, ValidationProblem>> CreateSession(
        CreateSessionRequest request,
        [FromHeader(Name = IdempotencyKeyHeader), IdempotencyKey] string? idempotencyKey,
        VisitorNumberAssigner assigner,
        DatabaseDeadline deadline,
        VisitorNumberingTelemetry telemetry,
        PilotTokens pilots,
        Withdrawal.PersonWithdrawal withdrawal,
        HttpContext http,
        CancellationToken cancellationToken)
    {
        // A panel's ids are the person (docs/SECURITY.md): checked all at once, never echoed (personal data).
        if (request.Recruitment is { } recruitment)
        {
            var errors = recruitment.Errors();
            if (request.UserId is not null)
            {
                errors["userId"] = ["Send userId or recruitment, not both: a panel's ids already name the person."];
            }

            if (errors.Count > 0)
            {
                return Problems.Invalid(errors);
            }
        }

        // Its checks before the numbering wait for the database at most the deadline too.
        Task<T> Bounded<T>(Func<CancellationToken, Task<T>> work) =>
            deadline.RunAsync(work, telemetry.DeadlinesPassed, "Play", cancellationToken);

        // Resuming a person takes proof of being them; without it the answer is the one for a person who does not
        // exist, so a userId learnt elsewhere neither opens their number nor tells that they exist.
        if (request.UserId is { } userId && !await Bounded(token => SessionAccess.ProvesPersonAsync(http, userId, token)))
        {
            return UnknownUser(userId);
        }

        // A person who withdrew takes part no more: resuming them is refused (410), as their answers are.
        if (request.UserId is { } resumed && await Bounded(token => withdrawal.IsWithdrawnAsync(resumed, token)))
        {
            return Withdrawal.PersonWithdrawnException.Problem();
        }

        // A pilot is left out of the live data: only a researcher's pilot link (its token) may ask for that. An
        // unknown study goes on, to be answered 404 as for a live person.
        var mode = request.Mode ?? SessionModes.Live;
        if (mode == SessionModes.Pilot
            && await Bounded(token => pilots.IsValidAsync(request.ExperimentId!.Value, request.PilotToken, token)) == false)
        {
            return StudyProblems.PilotToken();
        }

        // Bounded by the deadline: a silent database answers 503, and the retry with the same key gets the same number.
        var result = await deadline.RunAsync(token => assigner.StartSessionAsync(request.ExperimentId!.Value, request.UserId,
            request.CurrentLevel ?? 1, request.BranchingPath, request.SessionData, idempotencyKey, mode, token, request.Recruitment),
            telemetry.DeadlinesPassed, "Play", cancellationToken);

        if (result.Session is not { } session)
        {
            return result.Error switch
            {
                StartSessionError.UserNotFound => UnknownUser(request.UserId!.Value),
                StartSessionError.ExperimentNotFound => Problems.NotFound(result.Detail!),
                StartSessionError.StudyFull => StudyProblems.Full(result.Detail!),
                StartSessionError.StudyNotOpen => StudyProblems.NotOpen(result.Detail!),
                StartSessionError.StudyClosed => StudyProblems.Closed(result.Detail!),
                StartSessionError.ModeMismatch => Problems.Conflict(result.Detail!),
                StartSessionError.IdempotencyKeyReused => Problems.UnprocessableEntity(result.Detail!),
                StartSessionError.Withdrawn => Withdrawal.PersonWithdrawnException.Problem(),
                _ => Problems.BadRequest(result.Detail!),
            };
        }

        if (result.Replayed)
        {
            http.Response.Headers[IdempotentReplayedHeader] = "true";
        }

        return TypedResults.Created($"/api/session/{session.Id}", StartedSession.Of(session, result.Secret));
    }

    private static ProblemHttpResult UnknownUser(Guid userId) => Problems.NotFound($"No user with id '{userId}'.");

    public static async Task<Results<Ok<SessionDetails>, ProblemHttpResult>> GetSession(
        Guid id, MindJourneyDbContext db, CancellationToken cancellationToken)
    {
        var session = await db.ExperimentSessions.AsNoTracking()
            .Where(s => s.Id == id)
            .Select(s => new { Session = s, s.Experiment!.TotalLevels, s.Experiment.CompletionUrl })
            .FirstOrDefaultAsync(cancellationToken);

        return session is null
            ? Problems.NotFound($"No session with id '{id}'.")
            : TypedResults.Ok(ToResponse(session.Session, session.TotalLevels) with
            {
                CompletionUrl = await CompletionUrlAsync(db, session.Session, session.CompletionUrl, cancellationToken),
            });
    }

    /// <summary>Moves a session on. Completion feeds the least-filled tallies, so a participant (the session's secret)
    /// may complete a session only at the experiment's last level, and never undo it; the admin key may do both.</summary>
    public static async Task<Results<Ok<SessionDetails>, ProblemHttpResult>> UpdateSession(
        Guid id, UpdateSessionRequest request, HttpContext http, MindJourneyDbContext db, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // Locked, so the level the completion rule reads is still the level when the completion commits.
        await db.Database.ExecuteSqlAsync($"SELECT 1 FROM experiment_sessions WHERE id = {id} FOR UPDATE", cancellationToken);
        var session = await db.ExperimentSessions.Include(s => s.Experiment).FirstOrDefaultAsync(s => s.Id == id, cancellationToken);
        if (session is null)
        {
            return Problems.NotFound($"No session with id '{id}'.");
        }

        // Read after the session's lock, which a withdrawal holds while it erases: nothing changes after it.
        if (await db.Users.AnyAsync(u => u.Id == session.UserId && u.WithdrawnAt != null, cancellationToken))
        {
            return Withdrawal.PersonWithdrawnException.Problem();
        }

        var totalLevels = session.Experiment!.TotalLevels;
        if (request.CurrentLevel is { } level && (level < 1 || level > totalLevels))
        {
            return Problems.BadRequest($"currentLevel must be between 1 and {totalLevels}.");
        }

        var admin = SessionAccess.IsAdmin(http);
        var levelAfter = request.CurrentLevel ?? session.CurrentLevel;
        if (!admin && CompletionProblem(request.IsCompleted, session.IsCompleted, levelAfter, totalLevels) is { } refused)
        {
            return refused;
        }

        var changed = false;
        if (request.CurrentLevel is { } newLevel)
        {
            changed |= session.CurrentLevel != newLevel;
            session.CurrentLevel = newLevel;
        }

        if (request.IsCompleted is { } completed && completed != session.IsCompleted)
        {
            // Turned in SQL with its condition's tally; the row lock above keeps two PATCHes from both turning it.
            await db.Database.ExecuteSqlRawAsync(ConditionSql.Complete,
                [new NpgsqlParameter<Guid>("id", id), new NpgsqlParameter<bool>("completed", completed)], cancellationToken);
            session.IsCompleted = completed;
            changed = true;
        }

        if (request.BranchingPath is not null)
        {
            changed |= session.BranchingPath != request.BranchingPath;
            session.BranchingPath = request.BranchingPath;
        }

        if (request.SessionData is { } data)
        {
            session.SessionData = data.GetRawText();
            changed = true;
        }

        // A repeated completion (a retried Finish) changes nothing, its time included.
        if (changed)
        {
            session.UpdatedAt = DateTimeOffset.UtcNow;
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(ToResponse(session, totalLevels) with
        {
            CompletionUrl = await CompletionUrlAsync(db, session, session.Experiment.CompletionUrl, cancellationToken),
        });
    }

    /// <summary>A completed session's way back to its panel: the study's stored template filled with the number
    /// and the person's panel ids in this study (none for a person who came without). Null before completion or
    /// for a study without a link.</summary>
    private static async Task<string?> CompletionUrlAsync(MindJourneyDbContext db, ExperimentSession session, string? template,
        CancellationToken cancellationToken)
    {
        if (!session.IsCompleted || template is null)
        {
            return null;
        }

        var ids = CompletionLinks.NeedsPanelIds(template)
            ? await db.Recruitments.AsNoTracking()
                .Where(r => r.UserId == session.UserId && r.ExperimentId == session.ExperimentId)
                .OrderBy(r => r.CreatedAt)
                .Select(r => new { r.ParticipantId, r.PanelStudyId, r.PanelSessionId })
                .FirstOrDefaultAsync(cancellationToken)
            : null;
        return CompletionLinks.Fill(template, session.VisitorNumber, ids?.ParticipantId, ids?.PanelStudyId, ids?.PanelSessionId);
    }

    /// <summary>A participant's completion rule. 409 for a completion before the last level: the request is well
    /// formed and is accepted as it is once the session is at its last level (or with that level in the same PATCH).
    /// Completing a completed session changes nothing, so it is never refused. 403 for undoing a completion: only a
    /// researcher may.</summary>
    private static ProblemHttpResult? CompletionProblem(bool? completed, bool wasCompleted, int levelAfter, int totalLevels) =>
        completed switch
        {
            true when !wasCompleted && levelAfter < totalLevels => Problems.Conflict(
                $"A session is completed at its last level: this one would be at level {levelAfter} of {totalLevels}. "
                + $"Send currentLevel {totalLevels} first, or with isCompleted."),
            false when wasCompleted => Problems.Create(StatusCodes.Status403Forbidden, "Forbidden",
                "A completed session stays completed; only a researcher (the admin key) can reopen it."),
            _ => null,
        };

    private static SessionDetails ToResponse(ExperimentSession s, int totalLevels) => new(
        s.Id, s.UserId, s.ExperimentId, s.VisitorNumber, s.StudyParticipantNumber, s.Mode, s.Condition, s.ConditionOrder,
        s.CurrentLevel, totalLevels, SessionDetails.Percent(s.CurrentLevel, totalLevels, s.IsCompleted), s.BranchingPath,
        s.IsCompleted, s.CreatedAt, s.UpdatedAt);
}
