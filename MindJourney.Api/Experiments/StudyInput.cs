using System.Text.Json;
using MindJourney.Api.Data;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Responses;
using MindJourney.Api.Sessions;

namespace MindJourney.Api.Experiments;

/// <summary>A level as a researcher sends it; <see cref="Questions"/> is the JSON array as sent (checked).</summary>
public sealed record StudyLevelInput(string Title, string? Description, string Questions);

/// <summary>
/// The body of <c>POST</c> and <c>PATCH /api/admin/experiments</c>, read field by field so that every broken rule is
/// reported at once, keyed by its path as the client wrote it (<c>levels[0].questions[1].id</c>). Everything a
/// participant later sees obeys the stored-text rules (<see cref="StoredInput"/>). A field not sent is not in
/// <see cref="Given"/>: a PATCH changes only what it sends.
/// </summary>
public sealed class StudyInput
{
    public const int MaxLevels = 50;
    public const int MaxConditions = 26;
    public const int MaxQuestions = 100;
    public const int MaxTitleLength = 200;
    public const int MaxDescriptionLength = 4000;
    public const int MaxPromptLength = 4000;
    public const int MaxIdLength = 200;
    public const int MaxConditionLength = 100;
    public const int MaxUrlLength = 2000;
    public const int MaxSonaParameterLength = 64;
    public const int MaxParticipantsLimit = 10_000_000;

    public const string Title = "title", Description = "description", Levels = "levels", Conditions = "conditions",
        ConditionScheme = "conditionScheme", MaxParticipants = "maxParticipants", Status = "status", Slug = "slug",
        CompletionUrl = "completionUrl", SonaParameter = "sonaParameter";

    private static readonly string[] Fields =
        [Title, Description, Levels, Conditions, ConditionScheme, MaxParticipants, Status, Slug, CompletionUrl, SonaParameter];

    private static readonly string[] Schemes = [ConditionSchemes.Cycle, ConditionSchemes.LatinSquare, ConditionSchemes.LeastFilled];

    private static readonly string[] QuestionTypes =
        [ResponseTypes.Text, ResponseTypes.Voice, ResponseTypes.Video, ResponseTypes.Photo, ResponseTypes.Email];

    private readonly Dictionary<string, List<string>> _errors = [];

    public HashSet<string> Given { get; } = new(StringComparer.Ordinal);

    public string? TitleValue { get; private set; }
    public string? DescriptionValue { get; private set; }
    public IReadOnlyList<StudyLevelInput>? LevelsValue { get; private set; }
    public string[]? ConditionsValue { get; private set; }
    public string? ConditionSchemeValue { get; private set; }
    public int? MaxParticipantsValue { get; private set; }
    public string? StatusValue { get; private set; }
    public string? SlugValue { get; private set; }
    public string? CompletionUrlValue { get; private set; }
    public string? SonaParameterValue { get; private set; }

    public bool IsValid => _errors.Count == 0;

    public Dictionary<string, string[]> Errors => _errors.ToDictionary(e => e.Key, e => e.Value.ToArray());

    /// <summary>Reads a create (<paramref name="creating"/>: title and levels required) or a change.</summary>
    public static StudyInput Read(JsonElement body, bool creating)
    {
        var input = new StudyInput();
        if (body.ValueKind != JsonValueKind.Object)
        {
            input.Error("", "The body must be a JSON object.");
            return input;
        }

        foreach (var property in body.EnumerateObject())
        {
            if (!Fields.Contains(property.Name, StringComparer.Ordinal))
            {
                input.Error(property.Name, $"{property.Name} is not a field of a study (fields: {string.Join(", ", Fields)}).");
            }
            else if (!input.Given.Add(property.Name))
            {
                input.Error(property.Name, $"{property.Name} is sent twice.");
            }
        }

        input.ReadFields(body, creating);
        return input;
    }

    private void ReadFields(JsonElement body, bool creating)
    {
        if (Has(body, Title, out var title, required: creating, nullable: false))
        {
            TitleValue = Text(title, Title, MaxTitleLength, required: true);
        }

        if (Has(body, Description, out var description, required: false, nullable: true))
        {
            // null: no description (a change can take it away).
            DescriptionValue = description.ValueKind == JsonValueKind.Null
                ? null
                : Text(description, Description, MaxDescriptionLength, required: false);
        }

        if (Has(body, Levels, out var levels, required: creating, nullable: false))
        {
            LevelsValue = ReadLevels(levels);
        }

        if (Has(body, Conditions, out var conditions, required: false, nullable: creating))
        {
            ConditionsValue = conditions.ValueKind == JsonValueKind.Null ? [] : ReadConditions(conditions);
        }

        if (Has(body, ConditionScheme, out var scheme, required: false, nullable: creating))
        {
            ConditionSchemeValue = OneOf(scheme, ConditionScheme, Schemes);
        }

        if (Has(body, MaxParticipants, out var max, required: false, nullable: true) && max.ValueKind != JsonValueKind.Null)
        {
            if (max.ValueKind == JsonValueKind.Number && max.TryGetInt32(out var cap) && cap is >= 1 and <= MaxParticipantsLimit)
            {
                MaxParticipantsValue = cap;
            }
            else
            {
                Error(MaxParticipants, $"maxParticipants must be null (no cap) or a whole number from 1 to {MaxParticipantsLimit}.");
            }
        }

        if (Has(body, Status, out var status, required: false, nullable: creating))
        {
            StatusValue = OneOf(status, Status, StudyStatuses.All);
        }

        if (Has(body, Slug, out var slug, required: false, nullable: creating) && slug.ValueKind != JsonValueKind.Null)
        {
            if (slug.ValueKind == JsonValueKind.String && StudySlugs.IsValid(slug.GetString()!))
            {
                SlugValue = slug.GetString();
            }
            else
            {
                Error(Slug, $"slug must be a string: {StudySlugs.Rule}.");
            }
        }

        if (Has(body, CompletionUrl, out var url, required: false, nullable: true) && url.ValueKind != JsonValueKind.Null)
        {
            var text = Text(url, CompletionUrl, MaxUrlLength, required: true);
            if (text is not null && CompletionLinks.TemplateProblem(text) is { } problem)
            {
                Error(CompletionUrl, problem);
            }
            else
            {
                CompletionUrlValue = text;
            }
        }

        if (Has(body, SonaParameter, out var sona, required: false, nullable: true) && sona.ValueKind != JsonValueKind.Null)
        {
            var text = Text(sona, SonaParameter, MaxSonaParameterLength, required: true);
            if (text is not null && !text.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                Error(SonaParameter, "sonaParameter must be null or a query parameter name (letters, digits, '_' and '-').");
            }
            else
            {
                SonaParameterValue = text;
            }
        }
    }

    private List<StudyLevelInput>? ReadLevels(JsonElement levels)
    {
        if (levels.ValueKind != JsonValueKind.Array || levels.GetArrayLength() is < 1 or > MaxLevels)
        {
            Error(Levels, $"levels must be an array of 1 to {MaxLevels} levels.");
            return null;
        }

        var read = new List<StudyLevelInput>();
        var i = 0;
        foreach (var level in levels.EnumerateArray())
        {
            var path = $"{Levels}[{i++}]";
            if (level.ValueKind != JsonValueKind.Object)
            {
                Error(path, "A level is an object: { title, description, questions }.");
                continue;
            }

            foreach (var property in level.EnumerateObject().Where(p => p.Name is not ("title" or "description" or "questions")))
            {
                Error($"{path}.{property.Name}", $"{property.Name} is not a field of a level (title, description, questions).");
            }

            var title = level.TryGetProperty("title", out var t) ? Text(t, $"{path}.title", MaxTitleLength, required: true)
                : Missing($"{path}.title");
            var description = level.TryGetProperty("description", out var d) && d.ValueKind != JsonValueKind.Null
                ? Text(d, $"{path}.description", MaxDescriptionLength, required: false) : null;
            var questions = level.TryGetProperty("questions", out var q)
                ? ReadQuestions(q, $"{path}.questions")
                : Missing($"{path}.questions");
            if (title is not null && questions is not null)
            {
                read.Add(new StudyLevelInput(title, description, questions));
            }
        }

        return read;
    }

    /// <summary>The questions as the page reads them (today's <c>experiment_levels.questions</c>): objects with a
    /// unique <c>id</c>, a <c>type</c> and a <c>prompt</c>; other fields (<c>accepts</c>, <c>required</c>) are kept
    /// as sent when they are JSON that can be stored.</summary>
    private string? ReadQuestions(JsonElement questions, string path)
    {
        if (questions.ValueKind != JsonValueKind.Array || questions.GetArrayLength() is < 1 or > MaxQuestions)
        {
            Error(path, $"questions must be an array of 1 to {MaxQuestions} questions.");
            return null;
        }

        var before = _errors.Count;
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var i = 0;
        foreach (var question in questions.EnumerateArray())
        {
            var at = $"{path}[{i++}]";
            if (question.ValueKind != JsonValueKind.Object)
            {
                Error(at, "A question is an object: { id, type, prompt }.");
                continue;
            }

            if (StoredInput.JsonProblem(question, at) is { } problem)
            {
                Error(at, problem);
                continue;
            }

            var id = question.TryGetProperty("id", out var idValue)
                ? Text(idValue, $"{at}.id", MaxIdLength, required: true)
                : Missing($"{at}.id");
            if (id is not null && !ids.Add(id))
            {
                Error($"{at}.id", $"Question id '{id}' is used twice in this level: ids are unique within a level.");
            }

            if (question.TryGetProperty("type", out var type))
            {
                OneOf(type, $"{at}.type", QuestionTypes);
            }
            else
            {
                Missing($"{at}.type");
            }

            if (question.TryGetProperty("prompt", out var prompt))
            {
                Text(prompt, $"{at}.prompt", MaxPromptLength, required: true);
            }
            else
            {
                Missing($"{at}.prompt");
            }
        }

        return _errors.Count == before ? questions.GetRawText() : null;
    }

    private string[]? ReadConditions(JsonElement conditions)
    {
        if (conditions.ValueKind != JsonValueKind.Array || conditions.GetArrayLength() > MaxConditions)
        {
            Error(Conditions, $"conditions must be an array of at most {MaxConditions} names.");
            return null;
        }

        var names = new List<string>();
        var i = 0;
        foreach (var condition in conditions.EnumerateArray())
        {
            var path = $"{Conditions}[{i++}]";
            if (Text(condition, path, MaxConditionLength, required: true) is not { } name)
            {
                continue;
            }

            if (names.Contains(name, StringComparer.Ordinal))
            {
                Error(path, $"Condition '{name}' is listed twice: conditions are unique.");
            }

            names.Add(name);
        }

        return [.. names];
    }

    private bool Has(JsonElement body, string field, out JsonElement value, bool required, bool nullable)
    {
        if (!body.TryGetProperty(field, out value))
        {
            if (required)
            {
                Missing(field);
            }

            return false;
        }

        if (value.ValueKind == JsonValueKind.Null && !nullable)
        {
            Error(field, $"{field} cannot be null.");
            return false;
        }

        return true;
    }

    private string? Text(JsonElement value, string path, int maxLength, bool required)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            Error(path, $"{path} must be a string.");
            return null;
        }

        var text = value.GetString()!;
        if (StoredInput.TextProblem(text, path) is { } problem)
        {
            Error(path, problem);
            return null;
        }

        if ((required && string.IsNullOrWhiteSpace(text)) || text.Length > maxLength)
        {
            Error(path, required ? $"{path} is required, at most {maxLength} characters." : $"{path} is at most {maxLength} characters.");
            return null;
        }

        return text;
    }

    private string? OneOf(JsonElement value, string path, string[] allowed)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.String && allowed.Contains(value.GetString(), StringComparer.Ordinal))
        {
            return value.GetString();
        }

        Error(path, $"{path} must be one of: {string.Join(", ", allowed)}.");
        return null;
    }

    private string? Missing(string path)
    {
        Error(path, $"{path} is required.");
        return null;
    }

    private void Error(string path, string message)
    {
        if (!_errors.TryGetValue(path, out var messages))
        {
            _errors[path] = messages = [];
        }

        messages.Add(message);
    }
}
