using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization;
using MindJourney.Api.Data;
using MindJourney.Api.Experiments;
using MindJourney.Api.Infrastructure;

namespace MindJourney.Api.Sessions;

/// <summary>Body of <c>POST /api/session</c>, with its rules. Unknown fields are ignored, as the original platform did.
/// <c>mode: "pilot"</c> takes the study's pilot token (<see cref="PilotTokens"/>). <c>recruitment</c> (a panel's ids,
/// checked by the handler so that every broken rule is reported) makes the person the panel's.</summary>
public sealed record CreateSessionRequest(
    [property: RequiredId] Guid? ExperimentId,
    Guid? UserId,
    [property: Range(1, int.MaxValue, ErrorMessage = "currentLevel must be 1 or more.")] int? CurrentLevel,
    [property: AllowedValues(null, SessionModes.Live, SessionModes.Pilot,
        ErrorMessage = "mode must be '" + SessionModes.Live + "' (the default) or '" + SessionModes.Pilot + "'.")]
    string? Mode,
    [property: StringLength(SessionsApi.MaxBranchingPathLength, ErrorMessage = SessionsApi.BranchingPathTooLong), StoredText]
    string? BranchingPath,
    [property: StoredJson] JsonElement? SessionData,
    [property: StringLength(PilotTokens.MaxLength, ErrorMessage = "pilotToken is longer than {1} characters.")]
    string? PilotToken = null,
    RecruitmentInput? Recruitment = null);

/// <summary>Body of <c>PATCH /api/session/{id}</c>, with its rules. The identity fields are read only so that an
/// attempt to change them is refused rather than silently ignored. The level's upper bound is the experiment's.</summary>
public sealed record UpdateSessionRequest(
    [property: Unchangeable] JsonElement VisitorNumber,
    [property: Unchangeable] JsonElement UserId,
    [property: Unchangeable] JsonElement Id,
    [property: Unchangeable] JsonElement ExperimentId,
    int? CurrentLevel,
    bool? IsCompleted,
    [property: StringLength(SessionsApi.MaxBranchingPathLength, ErrorMessage = SessionsApi.BranchingPathTooLong), StoredText]
    string? BranchingPath,
    [property: StoredJson] JsonElement? SessionData);

/// <summary>A session as the API shows it (<c>GET</c>, <c>PATCH</c>); the start's answer adds its secret
/// (<see cref="StartedSession"/>). <see cref="StudyParticipantNumber"/> is the person's number within the study
/// (and mode): 1, 2, 3… without gaps; conditions are drawn from it.</summary>
public record SessionDetails(
    Guid Id,
    Guid UserId,
    Guid ExperimentId,
    int? VisitorNumber,
    int? StudyParticipantNumber,
    string Mode,
    string? Condition,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string[]? ConditionOrder,
    int CurrentLevel,
    int TotalLevels,
    int PercentComplete,
    string? BranchingPath,
    bool IsCompleted,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    /// <summary>The study's completion link filled for this session (<see cref="CompletionLinks"/>): only on a completed
    /// session of a study that has one; absent otherwise.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? CompletionUrl { get; init; }

    /// <summary>"Level 1 of 4" is 25 % complete; a completed session is 100 %.</summary>
    public static int Percent(int currentLevel, int totalLevels, bool isCompleted) =>
        isCompleted ? 100 : totalLevels <= 0 ? 0 : Math.Clamp(currentLevel * 100 / totalLevels, 0, 100);
}

/// <summary>The answer to <c>POST /api/session</c>: the session and the secret that reads and updates it (header
/// <c>X-Session-Secret</c>), never stored, never shown again. Always present: null for a replay of an Idempotency-Key
/// past its first 8, whose secrets (and the first one) stay valid.</summary>
public sealed record StartedSession : SessionDetails
{
    private StartedSession(SessionDetails session) : base(session)
    {
    }

    public string? SessionSecret { get; private init; }

    public static StartedSession Of(SessionDetails session, string? secret) => new(session) { SessionSecret = secret };
}
