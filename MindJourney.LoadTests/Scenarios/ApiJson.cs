using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace MindJourney.LoadTests.Scenarios;

/// <summary>A level as the journey needs it.</summary>
internal sealed record LevelInfo(string Id, int LevelNumber, IReadOnlyList<string> QuestionIds);

/// <summary>Session 201. <c>visitorNumber</c> must be present (null is the fallback), so it is required; the study's
/// own participant number (<c>studyParticipantNumber</c>) is read when the API gives one.</summary>
internal sealed record SessionAnswer(
    [property: JsonRequired] Guid Id, [property: JsonRequired] int? VisitorNumber, string? SessionSecret,
    int? StudyParticipantNumber = null);

/// <summary>A refusal (RFC 9457): its <c>type</c> tells which (<c>/problems/study-full</c>), its detail why.</summary>
internal sealed record ProblemAnswer(string? Type, string? Detail);

internal sealed record ExperimentAnswer([property: JsonRequired] Guid Id, int TotalLevels);

/// <summary>A level: its id as sent (a string or not), its questions in whatever shape the API stores them.</summary>
internal sealed record LevelAnswer(JsonElement Id, int? LevelNumber, JsonElement Questions);

internal sealed record ResponseAnswer(
    [property: JsonRequired] Guid Id, [property: JsonRequired] int? VisitorNumber, StoredObjectAnswer? Storage);

internal sealed record StoredObjectAnswer(string? Status, string? ObjectName);

/// <summary>Source-generated contracts for the few API answers the harness reads: no reflection per request.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(SessionAnswer))]
[JsonSerializable(typeof(ExperimentAnswer))]
[JsonSerializable(typeof(List<LevelAnswer>))]
[JsonSerializable(typeof(ResponseAnswer))]
[JsonSerializable(typeof(ProblemAnswer))]
internal sealed partial class ApiAnswerJson : JsonSerializerContext;

/// <summary>Reads the fields the harness checks from API answers; an answer that does not fit is invalid.</summary>
internal static class ApiJson
{
    /// <summary>Session 201: <c>id</c>, <c>visitorNumber</c> and the <c>sessionSecret</c> that later reads need.</summary>
    public static bool TryReadSession(ReadOnlySpan<byte> json, out Guid id, out int? visitorNumber, out string? secret) =>
        TryReadSession(json, out id, out visitorNumber, out secret, out _);

    /// <summary>Session 201, with the study's own participant number (null when the API gives none).</summary>
    public static bool TryReadSession(ReadOnlySpan<byte> json, out Guid id, out int? visitorNumber, out string? secret,
        out int? studyNumber)
    {
        var answer = Read(json, ApiAnswerJson.Default.SessionAnswer);
        (id, visitorNumber, secret, studyNumber) = answer is null
            ? (Guid.Empty, null, null, null)
            : (answer.Id, answer.VisitorNumber, answer.SessionSecret, answer.StudyParticipantNumber);
        return answer is not null;
    }

    /// <summary>The <c>type</c> and <c>detail</c> of a problem+json answer (nulls when the body is not one).</summary>
    public static (string? Type, string? Detail) ReadProblem(ReadOnlySpan<byte> json) =>
        Read(json, ApiAnswerJson.Default.ProblemAnswer) is { } problem ? (problem.Type, problem.Detail) : (null, null);

    /// <summary>GET /api/experiment: <c>id</c> (and <c>totalLevels</c> when given).</summary>
    public static bool TryReadExperiment(ReadOnlySpan<byte> json, out Guid id, out int totalLevels)
    {
        var answer = Read(json, ApiAnswerJson.Default.ExperimentAnswer);
        (id, totalLevels) = answer is null ? (Guid.Empty, 0) : (answer.Id, answer.TotalLevels);
        return answer is not null;
    }

    /// <summary>GET /api/experiment/{id}/levels: the levels ordered by levelNumber, with their question ids.</summary>
    public static bool TryReadLevels(ReadOnlySpan<byte> json, out List<LevelInfo> levels)
    {
        levels = [];
        if (Read(json, ApiAnswerJson.Default.ListLevelAnswer) is not { Count: > 0 } answers
            || answers.Any(a => a is null || a.Id.ValueKind == JsonValueKind.Undefined))
        {
            return false;
        }

        levels.AddRange(answers.Select((level, index) => new LevelInfo(
            level.Id.ValueKind == JsonValueKind.String ? level.Id.GetString()! : level.Id.GetRawText(),
            level.LevelNumber ?? index + 1,
            QuestionIds(level.Questions))));
        levels.Sort((a, b) => a.LevelNumber.CompareTo(b.LevelNumber));
        return true;
    }

    /// <summary>POST /api/response 201: <c>id</c>, <c>visitorNumber</c>, <c>storage.status</c>, <c>storage.objectName</c>.</summary>
    public static bool TryReadResponse(ReadOnlySpan<byte> json, out Guid id, out int? visitorNumber, out string? storageStatus,
        out string? objectName)
    {
        var answer = Read(json, ApiAnswerJson.Default.ResponseAnswer);
        (id, visitorNumber, storageStatus, objectName) = answer is null
            ? (Guid.Empty, null, null, null)
            : (answer.Id, answer.VisitorNumber, answer.Storage?.Status, answer.Storage?.ObjectName);
        return answer is not null;
    }

    private static T? Read<T>(ReadOnlySpan<byte> json, JsonTypeInfo<T> type)
        where T : class
    {
        try
        {
            return JsonSerializer.Deserialize(json, type);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static List<string> QuestionIds(JsonElement questions)
    {
        var ids = new List<string>();
        if (questions.ValueKind == JsonValueKind.String)
        {
            // jsonb sometimes arrives as a string holding JSON
            try
            {
                using var inner = JsonDocument.Parse(questions.GetString() ?? "null");
                return Collect(inner.RootElement);
            }
            catch (JsonException)
            {
                return ids;
            }
        }

        return Collect(questions);

        static List<string> Collect(JsonElement questions)
        {
            var ids = new List<string>();
            if (questions.ValueKind == JsonValueKind.Object && questions.TryGetProperty("questions", out var nested))
            {
                questions = nested;
            }

            if (questions.ValueKind != JsonValueKind.Array)
            {
                return ids;
            }

            var i = 0;
            foreach (var q in questions.EnumerateArray())
            {
                i++;
                string? id = q.ValueKind switch
                {
                    JsonValueKind.String => q.GetString(),
                    JsonValueKind.Object => Field(q, "id") ?? Field(q, "questionId") ?? Field(q, "key"),
                    _ => null,
                };
                ids.Add(string.IsNullOrWhiteSpace(id) ? $"q{i}" : id.Length > 200 ? id[..200] : id);
            }

            return ids;
        }

        static string? Field(JsonElement o, string name) =>
            o.TryGetProperty(name, out var v)
                ? v.ValueKind switch
                {
                    JsonValueKind.String => v.GetString(),
                    JsonValueKind.Number => v.GetRawText(),
                    _ => null,
                }
                : null;
    }
}
