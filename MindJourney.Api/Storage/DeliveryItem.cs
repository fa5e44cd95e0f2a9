using System.Globalization;

namespace MindJourney.Api.Storage;

/// <summary>One upload on its way to storage, with what its object's metadata says. <see cref="VisitorNumber"/> is
/// read from the response row when the delivery starts, so a number back-filled by the admin recovery is the one
/// stored.</summary>
public sealed record DeliveryItem(
    Guid ResponseId,
    string ObjectName,
    string ContentType,
    long SizeBytes,
    string Md5Hash,
    string OriginalName,
    DateTimeOffset UploadedAt,
    int Attempts,
    Guid SessionId,
    Guid UserId,
    Guid ExperimentId,
    int? VisitorNumber,
    string ResponseType)
{
    /// <summary>The metadata key of the visitor number: the admin recovery and the worker patch it later.</summary>
    public const string VisitorNumberKey = "visitorNumber";

    /// <summary>An answer's text as its object holds it (UTF-8), carried by the worker's claim so that delivering it
    /// costs no query of its own; null for a file, whose bytes are read from the outbox's chunks.</summary>
    public byte[]? AnswerText { get; init; }

    /// <summary>The object's custom metadata (all strings); visitorNumber is empty while the
    /// session has no number yet.</summary>
    public Dictionary<string, string> Metadata() => new()
    {
        [VisitorNumberKey] = VisitorNumberText(VisitorNumber),
        ["sessionId"] = SessionId.ToString("D"),
        ["userId"] = UserId.ToString("D"),
        ["experimentId"] = ExperimentId.ToString("D"),
        ["responseId"] = ResponseId.ToString("D"),
        ["responseType"] = ResponseType,
        ["uploadedAt"] = UploadedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
        ["originalName"] = OriginalName,
    };

    public static string VisitorNumberText(int? visitorNumber) =>
        visitorNumber?.ToString(CultureInfo.InvariantCulture) ?? "";
}
