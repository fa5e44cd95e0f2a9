using System.Text.Json;

namespace MindJourney.LoadTests.Scenarios;

/// <summary>A level as the journey needs it.</summary>
internal sealed record LevelInfo(string Id, int LevelNumber, IReadOnlyList<string> QuestionIds);

/// <summary>Reads the few fields the harness needs from API answers (no full deserialisation).</summary>
internal static class ApiJson
{
    /// <summary>Session 201: <c>id</c> and <c>visitorNumber</c> (which must be present; null = fallback), and the
    /// <c>sessionSecret</c> that later reads and updates of the session need.</summary>
    public static bool TryReadSession(ReadOnlySpan<byte> json, out Guid id, out int? visitorNumber, out string? secret)
    {
        id = Guid.Empty;
        visitorNumber = null;
        secret = null;
        bool haveId = false, haveNumber = false;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == 0)
                {
                    break;
                }

                if (reader.TokenType != JsonTokenType.PropertyName || reader.CurrentDepth != 1)
                {
                    continue;
                }

                if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    haveId = reader.TokenType == JsonTokenType.String && reader.TryGetGuid(out id);
                }
                else if (reader.ValueTextEquals("visitorNumber"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Null)
                    {
                        haveNumber = true;
                    }
                    else if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var n))
                    {
                        visitorNumber = n;
                        haveNumber = true;
                    }
                }
                else if (reader.ValueTextEquals("sessionSecret"u8))
                {
                    reader.Read();
                    secret = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return false;
        }

        return haveId && haveNumber;
    }

    /// <summary>GET /api/experiment: <c>id</c> (and <c>totalLevels</c> when given).</summary>
    public static bool TryReadExperiment(ReadOnlySpan<byte> json, out Guid id, out int totalLevels)
    {
        id = Guid.Empty;
        totalLevels = 0;
        try
        {
            var reader = new Utf8JsonReader(json);
            using var doc = JsonDocument.ParseValue(ref reader);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object ||
                !root.TryGetProperty("id", out var idProp) || idProp.ValueKind != JsonValueKind.String || !idProp.TryGetGuid(out id))
            {
                return false;
            }

            if (root.TryGetProperty("totalLevels", out var tl) && tl.ValueKind == JsonValueKind.Number)
            {
                tl.TryGetInt32(out totalLevels);
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>GET /api/experiment/{id}/levels: the levels ordered by levelNumber, with their question ids.</summary>
    public static bool TryReadLevels(ReadOnlySpan<byte> json, out List<LevelInfo> levels)
    {
        levels = [];
        try
        {
            var reader = new Utf8JsonReader(json);
            using var doc = JsonDocument.ParseValue(ref reader);
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
            {
                return false;
            }

            var index = 0;
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                index++;
                if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("id", out var idProp))
                {
                    return false;
                }

                var id = idProp.ValueKind == JsonValueKind.String ? idProp.GetString()! : idProp.GetRawText();
                var number = e.TryGetProperty("levelNumber", out var ln) && ln.ValueKind == JsonValueKind.Number && ln.TryGetInt32(out var n) ? n : index;
                levels.Add(new LevelInfo(id, number, QuestionIds(e)));
            }

            levels.Sort((a, b) => a.LevelNumber.CompareTo(b.LevelNumber));
            return levels.Count > 0;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>POST /api/response 201: <c>id</c>, <c>visitorNumber</c>, <c>storage.status</c>, <c>storage.objectName</c>.</summary>
    public static bool TryReadResponse(ReadOnlySpan<byte> json, out Guid id, out int? visitorNumber, out string? storageStatus, out string? objectName)
    {
        id = Guid.Empty;
        visitorNumber = null;
        storageStatus = null;
        objectName = null;
        try
        {
            var reader = new Utf8JsonReader(json);
            using var doc = JsonDocument.ParseValue(ref reader);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object ||
                !root.TryGetProperty("id", out var idProp) || idProp.ValueKind != JsonValueKind.String || !idProp.TryGetGuid(out id) ||
                !root.TryGetProperty("visitorNumber", out var vn))
            {
                return false;
            }

            if (vn.ValueKind == JsonValueKind.Number && vn.TryGetInt32(out var n))
            {
                visitorNumber = n;
            }
            else if (vn.ValueKind != JsonValueKind.Null)
            {
                return false;
            }

            if (root.TryGetProperty("storage", out var storage) && storage.ValueKind == JsonValueKind.Object)
            {
                if (storage.TryGetProperty("status", out var st) && st.ValueKind == JsonValueKind.String)
                {
                    storageStatus = st.GetString();
                }

                if (storage.TryGetProperty("objectName", out var on) && on.ValueKind == JsonValueKind.String)
                {
                    objectName = on.GetString();
                }
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static List<string> QuestionIds(JsonElement level)
    {
        var ids = new List<string>();
        if (!level.TryGetProperty("questions", out var questions))
        {
            return ids;
        }

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
