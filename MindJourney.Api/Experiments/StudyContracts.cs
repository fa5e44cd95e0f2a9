using System.Text.Json;

namespace MindJourney.Api.Experiments;

/// <summary>Live people in a study: <see cref="Started"/> were given a study participant number (fallbacks still
/// without a visitor number included: they count toward the cap); <see cref="Completed"/> completed a session.</summary>
public sealed record StudyParticipants(long Started, long Completed);

/// <summary>A study as the admin API answers it. <see cref="ParticipantUrl"/> is a path: the participant page for
/// this study; <see cref="PilotUrl"/> the same page as a pilot (<c>/?study={slug}&amp;pilot={token}</c>), for
/// researchers only.</summary>
public sealed record StudyDetails(
    Guid Id,
    string Slug,
    string Title,
    string? Description,
    string Status,
    IReadOnlyList<LevelDetails> Levels,
    string[] Conditions,
    string ConditionScheme,
    int? MaxParticipants,
    string? CompletionUrl,
    string? SonaParameter,
    StudyParticipants Participants,
    string ParticipantUrl,
    string PilotUrl,
    DateTimeOffset CreatedAt,
    DateTimeOffset? OpenedAt);

/// <summary>What the action log keeps of a study created or changed: the fields before and after (only those that
/// changed; all of them, and no before, for a new study).</summary>
public sealed record StudyChange(Guid StudyId, string Slug, JsonElement? Before, JsonElement After);
