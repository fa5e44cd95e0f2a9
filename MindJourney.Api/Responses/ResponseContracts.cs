using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization;
using MindJourney.Api.Data;
using MindJourney.Api.Infrastructure;

namespace MindJourney.Api.Responses;

/// <summary>Body of <c>POST /api/response</c> (JSON form, or the multipart form's fields), with its rules.
/// <c>responseData</c> may be a JSON value, or a string holding JSON as the original client sends it: its rules are
/// checked as it is normalised.</summary>
public sealed record CreateResponseRequest(
    [property: RequiredId] Guid? SessionId,
    [property: RequiredText(ResponsesApi.MaxIdLength), StoredText] string? LevelId,
    [property: RequiredText(ResponsesApi.MaxIdLength), StoredText] string? QuestionId,
    [property: AllowedValues(ResponseTypes.Text, ResponseTypes.Voice, ResponseTypes.Video, ResponseTypes.Photo, ResponseTypes.Email,
        ErrorMessage = "responseType must be one of: " + ResponseTypes.Text + ", " + ResponseTypes.Voice + ", " + ResponseTypes.Video
            + ", " + ResponseTypes.Photo + ", " + ResponseTypes.Email + ".")]
    string? ResponseType,
    JsonElement? ResponseData);

public sealed record StorageInfo(string Status, string? ObjectName)
{
    public const string Stored = "stored";
    public const string Pending = "pending";
    public const string None = "none";

    public static readonly StorageInfo NotStored = new(None, null);
}

/// <summary>A recorded answer as the API returns it, with where its file or text stands in storage. <c>userId</c> is in
/// the session's answer list (read with the session's secret, itself proof of being that person) and never in the
/// answer to <c>POST /api/response</c> (<see cref="WithoutPerson"/>): anyone with a session id may post, and a userId is
/// what resuming a person starts from.</summary>
public sealed record ResponseDetails(
    Guid Id,
    Guid SessionId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? UserId,
    int? VisitorNumber,
    string LevelId,
    string QuestionId,
    string ResponseType,
    JsonElement ResponseData,
    string? FileId,
    string? FileUrl,
    DateTimeOffset CreatedAt,
    StorageInfo Storage)
{
    public static ResponseDetails From(ExperimentResponse r) =>
        From(r, r.StorageStatus is { } status && r.FileId is not null ? new StorageInfo(status, r.FileId) : StorageInfo.NotStored);

    public static ResponseDetails From(ExperimentResponse r, StorageInfo storage)
    {
        using var data = JsonDocument.Parse(r.ResponseData);
        return new(r.Id, r.SessionId, r.UserId, r.VisitorNumber, r.LevelId, r.QuestionId, r.ResponseType,
            data.RootElement.Clone(), r.FileId, r.FileUrl, r.CreatedAt, storage);
    }

    /// <summary>The answer to <c>POST /api/response</c>.</summary>
    public ResponseDetails WithoutPerson() => this with { UserId = null };
}

public static class ResponseTypes
{
    public const string Text = "text";
    public const string Voice = "voice";
    public const string Video = "video";
    public const string Photo = "photo";
    public const string Email = "email";
}
