using System.Text.Json;
using MindJourney.Api.Data;

namespace MindJourney.Api.Experiments;

/// <summary>A study as the participant page reads it (<c>GET /api/experiment</c>). <see cref="IsActive"/> (the original
/// platform's name) means open. <see cref="SonaParameter"/>: the study link's parameter that holds a SONA id (null: <c>id</c>).</summary>
public sealed record ExperimentSummary(
    Guid Id, string Title, string? Description, int TotalLevels, bool IsActive, DateTimeOffset CreatedAt, string Slug, string Status,
    string? SonaParameter);

/// <summary>A level with its questions.</summary>
public sealed record LevelDetails(Guid Id, Guid ExperimentId, int LevelNumber, string Title, string? Description, JsonElement Questions)
{
    public static LevelDetails From(ExperimentLevel level)
    {
        using var questions = JsonDocument.Parse(level.Questions);
        return new(level.Id, level.ExperimentId, level.LevelNumber, level.Title, level.Description, questions.RootElement.Clone());
    }
}
