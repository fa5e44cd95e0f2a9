using System.Text.Json;
using System.Text.Json.Serialization;

namespace MindJourney.Api.Sessions;

/// <summary>Body of <c>POST /api/session</c>. Unknown fields are ignored, as the original platform did.</summary>
public sealed record CreateSessionRequest(
    Guid? ExperimentId,
    Guid? UserId,
    int? CurrentLevel,
    string? BranchingPath,
    JsonElement? SessionData,
    string? Mode);

/// <summary>Body of <c>PATCH /api/session/{id}</c>. The identity fields are read only so that an attempt to
/// change them is refused rather than silently ignored.</summary>
public sealed record UpdateSessionRequest(
    int? CurrentLevel,
    bool? IsCompleted,
    string? BranchingPath,
    JsonElement? SessionData,
    JsonElement VisitorNumber,
    JsonElement UserId,
    JsonElement Id,
    JsonElement ExperimentId);

public sealed record SessionResponse(
    Guid Id,
    Guid UserId,
    Guid ExperimentId,
    int? VisitorNumber,
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
    /// <summary>Only in the answer to <c>POST /api/session</c>: the secret that reads and updates this session
    /// (header <c>X-Session-Secret</c>). Never stored, never shown again.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? SessionSecret { get; init; }

    /// <summary>"Level 1 of 4" is 25 % complete; a completed session is 100 %.</summary>
    public static int Percent(int currentLevel, int totalLevels, bool isCompleted) =>
        isCompleted ? 100 : totalLevels <= 0 ? 0 : Math.Clamp(currentLevel * 100 / totalLevels, 0, 100);
}
