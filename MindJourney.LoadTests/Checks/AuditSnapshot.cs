using System.Text.Json;

namespace MindJourney.LoadTests.Checks;

/// <summary>GET /api/admin/visitor-numbers/audit, as read.</summary>
public sealed record AuditSnapshot
{
    public long SequenceLastValue { get; init; }
    public long Users { get; init; }
    public long NumberedUsers { get; init; }
    public long UnnumberedSessions { get; init; }

    /// <summary>Each duplicate as the raw JSON the API gave (a number or an object).</summary>
    public IReadOnlyList<string> Duplicates { get; init; } = [];

    public IReadOnlyList<NumberGap> Gaps { get; init; } = [];
    public long MismatchedSessions { get; init; }
    public long MismatchedResponses { get; init; }
    public long PendingUploads { get; init; }

    /// <summary>Reads the audit body. Counts given as arrays are taken by their length.</summary>
    public static AuditSnapshot Parse(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        using var doc = JsonDocument.ParseValue(ref reader);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException("The audit body is not a JSON object.");
        }

        if (!TryGet(root, "sequenceLastValue", out var seq))
        {
            throw new JsonException("The audit body has no sequenceLastValue.");
        }

        var duplicates = new List<string>();
        if (TryGet(root, "duplicates", out var d) && d.ValueKind == JsonValueKind.Array)
        {
            duplicates.AddRange(d.EnumerateArray().Select(e => e.GetRawText()));
        }

        var gaps = new List<NumberGap>();
        if (TryGet(root, "gaps", out var g) && g.ValueKind == JsonValueKind.Array)
        {
            foreach (var e in g.EnumerateArray())
            {
                if (e.ValueKind == JsonValueKind.Object)
                {
                    gaps.Add(new NumberGap(Count(e, "from"), Count(e, "to")));
                }
            }
        }

        return new AuditSnapshot
        {
            SequenceLastValue = Count(seq),
            Users = Count(root, "users"),
            NumberedUsers = Count(root, "numberedUsers"),
            UnnumberedSessions = Count(root, "unnumberedSessions"),
            Duplicates = duplicates,
            Gaps = gaps,
            MismatchedSessions = Count(root, "mismatchedSessions"),
            MismatchedResponses = Count(root, "mismatchedResponses"),
            PendingUploads = Count(root, "pendingUploads"),
        };
    }

    private static bool TryGet(JsonElement obj, string name, out JsonElement value)
    {
        foreach (var p in obj.EnumerateObject())
        {
            if (p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                value = p.Value;
                return true;
            }
        }

        value = default;
        return false;
    }

    private static long Count(JsonElement obj, string name) => TryGet(obj, name, out var v) ? Count(v) : 0;

    private static long Count(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Number => v.TryGetInt64(out var n) ? n : (long)v.GetDouble(),
        JsonValueKind.Array => v.GetArrayLength(),
        JsonValueKind.String when long.TryParse(v.GetString(), out var s) => s,
        _ => 0,
    };
}

public sealed record NumberGap(long From, long To);
