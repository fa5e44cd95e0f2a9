using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using MindJourney.Api.Admin;
using MindJourney.Api.Data;
using MindJourney.Api.Infrastructure;
using Npgsql;

namespace MindJourney.Api.Experiments;

/// <summary>
/// Studies a researcher sets up without SQL: create, read, change, open and close, each change in the admin action
/// log with the fields before and after. Mapped on the admin group (<see cref="AdminRoutes.MapAdminGroup"/>), which
/// carries the key and the rules. The cap and the status are enforced where people are numbered (the numbering
/// statements); here a change is made under the study's row lock, the lock Play takes, so it never races a start.
/// </summary>
public static class StudiesApi
{
    private const string Path = "/experiments";

    public static RouteGroupBuilder MapStudiesApi(this RouteGroupBuilder api)
    {
        api.MapPost(Path, CreateStudy).WithName("CreateStudy")
            .WithSummary("Create a study: levels, conditions and scheme, cap, status, slug")
            .WithMetadata(new RequestSizeLimitAttribute(RequestLimits.JsonBodyBytes));
        api.MapGet(Path, ListStudies).WithName("ListStudies").WithSummary("Every study, newest first, with its participants");
        api.MapGet(Path + "/{id:guid}", GetStudy).WithName("GetStudy").WithSummary("One study with its participants");
        api.MapPatch(Path + "/{id:guid}", UpdateStudy).WithName("UpdateStudy")
            .WithSummary("Change a study's fields: open or close it, change its cap, conditions or (before anyone started) levels")
            .WithMetadata(new RequestSizeLimitAttribute(RequestLimits.JsonBodyBytes));
        api.MapPost(Path + "/{id:guid}/pilot-token", RegeneratePilotToken).WithName("RegeneratePilotToken")
            .WithSummary("Issue a new pilot token for a study: every earlier pilot link stops working");
        api.MapGet(Path + "/{id:guid}/enrollment", Enrollment).WithName("StudyEnrollment")
            .WithSummary("Live sessions started (and of those completed) per hour or day, overall and per condition");
        return api;
    }

    public static async Task<Results<Created<StudyDetails>, ValidationProblem, ProblemHttpResult>> CreateStudy(
        [FromBody] JsonElement body, MindJourneyDbContext db, PilotTokens pilots, AdminActionLog actions, ClaimsPrincipal admin,
        CancellationToken cancellationToken)
    {
        var input = StudyInput.Read(body, creating: true);
        if (!input.IsValid)
        {
            return Problems.Invalid(input.Errors);
        }

        var slug = input.SlugValue ?? await FreeSlugAsync(db, StudySlugs.FromTitle(input.TitleValue!), cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var status = input.StatusValue ?? StudyStatuses.Draft;
        var study = new Experiment
        {
            Id = Guid.CreateVersion7(),
            Title = input.TitleValue!,
            Description = input.DescriptionValue,
            Slug = slug,
            Status = status,
            OpenedAt = status == StudyStatuses.Open ? now : null,
            Conditions = input.ConditionsValue ?? [],
            ConditionScheme = input.ConditionSchemeValue ?? ConditionSchemes.Cycle,
            MaxParticipants = input.MaxParticipantsValue,
            CompletionUrl = input.CompletionUrlValue,
            SonaParameter = input.SonaParameterValue,
            PilotNonce = RandomNumberGenerator.GetBytes(PilotNonceBytes),
            CreatedAt = now,
        };
        SetLevels(study, input.LevelsValue!, now);
        db.Experiments.Add(study);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (IsSlugTaken(ex))
        {
            return StudyProblems.SlugTaken(slug);
        }

        await actions.RecordAsync(admin, AdminActionLog.StudyCreated, new StudyChange(study.Id, slug, null, Element(Fields(study))),
            ApiJsonContext.Default.StudyChange);
        return TypedResults.Created($"/api/admin{Path}/{study.Id}", Details(study, new StudyParticipants(0, 0), pilots));
    }

    public static async Task<Ok<List<StudyDetails>>> ListStudies(MindJourneyDbContext db, PilotTokens pilots,
        CancellationToken cancellationToken)
    {
        var studies = await db.Experiments.AsNoTracking().Include(e => e.Levels)
            .OrderByDescending(e => e.CreatedAt).ThenByDescending(e => e.Id)
            .ToListAsync(cancellationToken);
        var completed = await CompletedAsync(db, null, cancellationToken);
        return TypedResults.Ok(studies.ConvertAll(s =>
            Details(s, new StudyParticipants(s.ParticipantsNumbered, completed.GetValueOrDefault(s.Id)), pilots)));
    }

    public static async Task<Results<Ok<StudyDetails>, ProblemHttpResult>> GetStudy(
        Guid id, MindJourneyDbContext db, PilotTokens pilots, CancellationToken cancellationToken)
    {
        var study = await db.Experiments.AsNoTracking().Include(e => e.Levels).FirstOrDefaultAsync(e => e.Id == id, cancellationToken);
        return study is null ? UnknownStudy(id) : TypedResults.Ok(await DetailsAsync(db, study, pilots, cancellationToken));
    }

    /// <summary>A new pilot nonce for the study: its pilot token (and so its pilotUrl) changes, and every link with an
    /// earlier token is refused from now on.</summary>
    public static async Task<Results<Ok<StudyDetails>, ProblemHttpResult>> RegeneratePilotToken(
        Guid id, MindJourneyDbContext db, PilotTokens pilots, AdminActionLog actions, ClaimsPrincipal admin,
        CancellationToken cancellationToken)
    {
        var study = await db.Experiments.Include(e => e.Levels).FirstOrDefaultAsync(e => e.Id == id, cancellationToken);
        if (study is null)
        {
            return UnknownStudy(id);
        }

        study.PilotNonce = RandomNumberGenerator.GetBytes(PilotNonceBytes);
        await db.SaveChangesAsync(cancellationToken);
        // The token itself is a secret: the record says only that it changed.
        await actions.RecordAsync(admin, AdminActionLog.PilotTokenRegenerated,
            new StudyChange(study.Id, study.Slug, null, Element(new JsonObject { ["pilotToken"] = "regenerated" })),
            ApiJsonContext.Default.StudyChange);
        return TypedResults.Ok(await DetailsAsync(db, study, pilots, cancellationToken));
    }

    /// <summary>Changes what the body sends, under the study's row lock (the lock every start takes), so a rule
    /// that reads the study's people (levels and slug fixed once a live person started; a cap not below them) still
    /// holds when the change commits.</summary>
    public static async Task<Results<Ok<StudyDetails>, ValidationProblem, ProblemHttpResult>> UpdateStudy(
        Guid id, [FromBody] JsonElement body, MindJourneyDbContext db, PilotTokens pilots, AdminActionLog actions,
        ClaimsPrincipal admin, CancellationToken cancellationToken)
    {
        var input = StudyInput.Read(body, creating: false);
        if (!input.IsValid)
        {
            return Problems.Invalid(input.Errors);
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Database.ExecuteSqlAsync($"SELECT 1 FROM experiments WHERE id = {id} FOR UPDATE", cancellationToken);
        var study = await db.Experiments.Include(e => e.Levels).FirstOrDefaultAsync(e => e.Id == id, cancellationToken);
        if (study is null)
        {
            return UnknownStudy(id);
        }

        var before = Fields(study);
        var live = await db.ExperimentSessions.AnyAsync(s => s.ExperimentId == id && s.Mode == SessionModes.Live, cancellationToken);
        if (Refusal(input, study, live) is { } refused)
        {
            return refused;
        }

        var now = DateTimeOffset.UtcNow;
        Apply(input, study, now);
        if (input.LevelsValue is { } levels)
        {
            // Deleted first, in its own statement: the new levels take the same (experiment, level number) keys.
            await db.ExperimentLevels.Where(l => l.ExperimentId == id).ExecuteDeleteAsync(cancellationToken);
            foreach (var old in study.Levels)
            {
                db.Entry(old).State = EntityState.Detached;
            }

            study.Levels.Clear();
            SetLevels(study, levels, now);
            db.ExperimentLevels.AddRange(study.Levels);
        }

        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (IsSlugTaken(ex))
        {
            return StudyProblems.SlugTaken(study.Slug);
        }

        if (study.ConditionScheme == ConditionSchemes.LeastFilled
            && (input.Given.Contains(StudyInput.Conditions) || input.Given.Contains(StudyInput.ConditionScheme)))
        {
            // The least-filled scheme reads tallies: counted from the sessions the study already has.
            await db.Database.ExecuteSqlAsync($"""
                INSERT INTO condition_tallies (experiment_id, mode, condition, started, completed)
                SELECT experiment_id, mode, condition, count(*), count(*) FILTER (WHERE is_completed)
                FROM experiment_sessions WHERE experiment_id = {id} AND condition IS NOT NULL GROUP BY 1, 2, 3
                ON CONFLICT (experiment_id, mode, condition)
                DO UPDATE SET started = excluded.started, completed = excluded.completed
                """, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        var (changedBefore, changedAfter) = Changed(before, Fields(study));
        await actions.RecordAsync(admin, AdminActionLog.StudyChanged,
            new StudyChange(study.Id, study.Slug, Element(changedBefore), Element(changedAfter)), ApiJsonContext.Default.StudyChange);
        return TypedResults.Ok(await DetailsAsync(db, study, pilots, cancellationToken));
    }

    /// <summary>The study's enrollment per <c>hour</c> or <c>day</c> (the default) for the researcher page's chart.</summary>
    public static async Task<Results<Ok<List<EnrollmentBucket>>, ValidationProblem, ProblemHttpResult>> Enrollment(
        Guid id, string? bucket, StudyEnrollment enrollment, CancellationToken cancellationToken)
    {
        bucket ??= StudyEnrollment.Day;
        if (bucket is not (StudyEnrollment.Hour or StudyEnrollment.Day))
        {
            return Problems.Invalid(new Dictionary<string, string[]>
            {
                ["bucket"] = [$"bucket must be '{StudyEnrollment.Hour}' or '{StudyEnrollment.Day}'."],
            });
        }

        return await enrollment.ReadAsync(id, bucket, cancellationToken) is { } buckets ? TypedResults.Ok(buckets) : UnknownStudy(id);
    }

    /// <summary>The rules that read the study's people.</summary>
    private static ProblemHttpResult? Refusal(StudyInput input, Experiment study, bool live)
    {
        if (input.LevelsValue is not null && live)
        {
            return StudyProblems.Started("levels can change only while the study has no live session: people have started it.");
        }

        if (input.SlugValue is { } slug && slug != study.Slug && live)
        {
            return StudyProblems.Started($"slug is fixed once a live person has started: the study's link stays /?study={study.Slug}.");
        }

        if (input.MaxParticipantsValue is { } cap && cap < study.ParticipantsNumbered)
        {
            return StudyProblems.Started(
                $"maxParticipants cannot go below the {study.ParticipantsNumbered} people who have already started.");
        }

        return null;
    }

    private static void Apply(StudyInput input, Experiment study, DateTimeOffset now)
    {
        foreach (var field in input.Given)
        {
            switch (field)
            {
                case StudyInput.Title:
                    study.Title = input.TitleValue!;
                    break;
                case StudyInput.Description:
                    study.Description = input.DescriptionValue;
                    break;
                case StudyInput.Conditions:
                    study.Conditions = input.ConditionsValue!;
                    break;
                case StudyInput.ConditionScheme:
                    study.ConditionScheme = input.ConditionSchemeValue!;
                    break;
                case StudyInput.MaxParticipants:
                    study.MaxParticipants = input.MaxParticipantsValue;
                    break;
                case StudyInput.Slug:
                    study.Slug = input.SlugValue!;
                    break;
                case StudyInput.CompletionUrl:
                    study.CompletionUrl = input.CompletionUrlValue;
                    break;
                case StudyInput.SonaParameter:
                    study.SonaParameter = input.SonaParameterValue;
                    break;
                case StudyInput.Status:
                    if (input.StatusValue == StudyStatuses.Open && study.Status != StudyStatuses.Open)
                    {
                        study.OpenedAt = now; // GET /api/experiment answers the most recently opened
                    }

                    study.Status = input.StatusValue!;
                    break;
            }
        }
    }

    private static void SetLevels(Experiment study, IReadOnlyList<StudyLevelInput> levels, DateTimeOffset now)
    {
        study.TotalLevels = levels.Count;
        for (var i = 0; i < levels.Count; i++)
        {
            study.Levels.Add(new ExperimentLevel
            {
                Id = Guid.CreateVersion7(),
                ExperimentId = study.Id,
                LevelNumber = i + 1,
                Title = levels[i].Title,
                Description = levels[i].Description,
                Questions = levels[i].Questions,
                CreatedAt = now,
            });
        }
    }

    /// <summary>The slug from the title, or with a random suffix when a study has it already.</summary>
    private static async Task<string> FreeSlugAsync(MindJourneyDbContext db, string slug, CancellationToken cancellationToken) =>
        await db.Experiments.AnyAsync(e => e.Slug == slug, cancellationToken) ? StudySlugs.WithSuffix(slug) : slug;

    private static bool IsSlugTaken(DbUpdateException ex) =>
        ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: "ix_experiments_slug" };

    private static ProblemHttpResult UnknownStudy(Guid id) => StudyProblems.NotFound($"No study with id '{id}'.");

    private const int PilotNonceBytes = 16;

    private static async Task<StudyDetails> DetailsAsync(MindJourneyDbContext db, Experiment study, PilotTokens pilots,
        CancellationToken cancellationToken)
    {
        var completed = await CompletedAsync(db, study.Id, cancellationToken);
        return Details(study, new StudyParticipants(study.ParticipantsNumbered, completed.GetValueOrDefault(study.Id)), pilots);
    }

    /// <summary>Live people with a completed session, per study (one study, or all).</summary>
    private static Task<Dictionary<Guid, long>> CompletedAsync(MindJourneyDbContext db, Guid? id, CancellationToken cancellationToken) =>
        db.ExperimentSessions.AsNoTracking()
            .Where(s => (id == null || s.ExperimentId == id) && s.Mode == SessionModes.Live && s.IsCompleted)
            .GroupBy(s => s.ExperimentId)
            .Select(g => new { g.Key, People = (long)g.Select(s => s.UserId).Distinct().Count() })
            .ToDictionaryAsync(g => g.Key, g => g.People, cancellationToken);

    private static StudyDetails Details(Experiment study, StudyParticipants participants, PilotTokens pilots) => new(
        study.Id, study.Slug, study.Title, study.Description, study.Status,
        study.Levels.OrderBy(l => l.LevelNumber).Select(LevelDetails.From).ToList(), study.Conditions, study.ConditionScheme,
        study.MaxParticipants, study.CompletionUrl, study.SonaParameter, participants, ParticipantUrl(study.Slug),
        $"{ParticipantUrl(study.Slug)}&pilot={pilots.For(study.Id, study.PilotNonce)}", study.CreatedAt, study.OpenedAt);

    /// <summary>The participant page for a study.</summary>
    public static string ParticipantUrl(string slug) => $"/?study={slug}";

    /// <summary>The fields a researcher sets, as the action log keeps them.</summary>
    private static JsonObject Fields(Experiment study) => new()
    {
        [StudyInput.Title] = study.Title,
        [StudyInput.Description] = study.Description,
        [StudyInput.Levels] = new JsonArray([.. study.Levels.OrderBy(l => l.LevelNumber).Select(l => (JsonNode)new JsonObject
        {
            ["title"] = l.Title,
            ["description"] = l.Description,
            ["questions"] = JsonNode.Parse(l.Questions),
        })]),
        [StudyInput.Conditions] = new JsonArray([.. study.Conditions.Select(c => (JsonNode?)JsonValue.Create(c))]),
        [StudyInput.ConditionScheme] = study.ConditionScheme,
        [StudyInput.MaxParticipants] = study.MaxParticipants,
        [StudyInput.Status] = study.Status,
        [StudyInput.Slug] = study.Slug,
        [StudyInput.CompletionUrl] = study.CompletionUrl,
        [StudyInput.SonaParameter] = study.SonaParameter,
    };

    /// <summary>Only the fields that differ, as they were and as they are.</summary>
    private static (JsonObject Before, JsonObject After) Changed(JsonObject before, JsonObject after)
    {
        var (was, now) = (new JsonObject(), new JsonObject());
        foreach (var (field, value) in after)
        {
            if (!JsonNode.DeepEquals(before[field], value))
            {
                was[field] = before[field]?.DeepClone();
                now[field] = value?.DeepClone();
            }
        }

        return (was, now);
    }

    private static JsonElement Element(JsonObject fields)
    {
        using var document = JsonDocument.Parse(fields.ToJsonString());
        return document.RootElement.Clone();
    }
}
