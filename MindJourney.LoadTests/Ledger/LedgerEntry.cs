using System.Text.Json;
using System.Text.Json.Serialization;

namespace MindJourney.LoadTests.Ledger;

/// <summary>One line of a ledger (<c>--ledger</c>): an acknowledged session or answer, or a request the API refused.
/// <see cref="At"/> is when the harness had the answer (Unix milliseconds), <see cref="Ms"/> how long it waited.</summary>
public sealed record LedgerEntry
{
    public const string SessionKind = "session";
    public const string AnswerKind = "answer";
    public const string RefusedKind = "refused";

    /// <summary><see cref="SessionKind"/>, <see cref="AnswerKind"/> or <see cref="RefusedKind"/>.</summary>
    public required string Kind { get; init; }

    public long At { get; init; }

    public double Ms { get; init; }

    /// <summary>The session's or the answer's id.</summary>
    public Guid? Id { get; init; }

    /// <summary>An answer's session.</summary>
    public Guid? Session { get; init; }

    public int? VisitorNumber { get; init; }

    public int? StudyParticipantNumber { get; init; }

    /// <summary>live or pilot.</summary>
    public string? Mode { get; init; }

    /// <summary>An answer's response type (text, voice…).</summary>
    public string? Type { get; init; }

    /// <summary>A file's bytes: their size and base64 MD5, as storage reports an object's.</summary>
    public long? Size { get; init; }

    public string? Md5 { get; init; }

    /// <summary>A refused request: its method and path, and the status (or timeout, transport).</summary>
    public string? Request { get; init; }

    public string? Status { get; init; }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(LedgerEntry))]
internal sealed partial class LedgerJson : JsonSerializerContext;
