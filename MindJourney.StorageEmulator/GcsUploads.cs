using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace MindJourney.StorageEmulator;

/// <summary>
/// <c>/upload/storage/v1/b/{bucket}/o</c>: uploadType=media, multipart and resumable (initiation, chunks, status
/// queries, cancellation).
/// </summary>
internal static class GcsUploads
{
    public static void MapGcsUploads(this IEndpointRouteBuilder app)
    {
        const string route = "/upload/storage/v1/b/{bucket}/o";
        app.MapPost(route, Post);
        app.MapPut(route, (HttpContext c, string bucket, ResumableUploads uploads) => uploads.PutChunkAsync(c, UploadId(c)));
        app.MapDelete(route, (HttpContext c, string bucket, ResumableUploads uploads) => uploads.Cancel(UploadId(c)));
    }

    private static string UploadId(HttpContext context) =>
        Query.String(context.Request.Query, "upload_id") ?? throw GcsException.Required("parameter: upload_id");

    private static async Task<IResult> Post(HttpContext context, string bucket, ObjectStore store, ResumableUploads uploads)
    {
        var request = context.Request;
        if (Query.String(request.Query, "upload_id") is { } uploadId)
        {
            return await uploads.PutChunkAsync(context, uploadId);
        }

        var uploadType = Query.String(request.Query, "uploadType")
            ?? (IsMultipart(request) ? "multipart" : "media");
        return uploadType switch
        {
            "media" => await MediaAsync(context, bucket, store),
            "multipart" => await MultipartAsync(context, bucket, store),
            "resumable" => await uploads.StartAsync(context, bucket),
            _ => throw GcsException.BadRequest($"Invalid value for uploadType: {uploadType}"),
        };
    }

    private static bool IsMultipart(HttpRequest request) =>
        request.ContentType?.StartsWith("multipart/", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>The object resource from a JSON body plus the query parameters that override it.</summary>
    public static ObjectDraft Draft(HttpRequest request, string bucket, JsonObject body)
    {
        var query = request.Query;
        var (headerCrc, headerMd5) = ParseHashHeader(request);
        var draft = new ObjectDraft
        {
            Bucket = bucket,
            Name = Query.String(query, "name") ?? Json.String(body, "name") ?? "",
            ContentType = Json.String(body, "contentType"),
            CacheControl = Json.String(body, "cacheControl"),
            ContentDisposition = Json.String(body, "contentDisposition"),
            ContentEncoding = Query.String(query, "contentEncoding") ?? Json.String(body, "contentEncoding"),
            ContentLanguage = Json.String(body, "contentLanguage"),
            CustomTime = Json.Time(body, "customTime"),
            Metadata = Json.StringMap(body, "metadata"),
            ExpectedCrc32c = Json.String(body, "crc32c") ?? headerCrc,
            ExpectedMd5 = Json.String(body, "md5Hash") ?? headerMd5,
        };
        ObjectStore.ValidateObjectName(draft.Name);
        return draft;
    }

    /// <summary><c>x-goog-hash: crc32c=...,md5=...</c> (one or several headers).</summary>
    public static (string? Crc32c, string? Md5) ParseHashHeader(HttpRequest request)
    {
        string? crc = null, md5 = null;
        foreach (var header in request.Headers["x-goog-hash"])
        {
            foreach (var part in (header ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (part.StartsWith("crc32c=", StringComparison.OrdinalIgnoreCase))
                {
                    crc = part["crc32c=".Length..];
                }
                else if (part.StartsWith("md5=", StringComparison.OrdinalIgnoreCase))
                {
                    md5 = part["md5=".Length..];
                }
            }
        }

        return (crc, md5);
    }

    private static async Task<IResult> MediaAsync(HttpContext context, string bucket, ObjectStore store)
    {
        var request = context.Request;
        var draft = Draft(request, bucket, []) with
        {
            ContentType = request.ContentType,
            ContentEncoding = Query.String(request.Query, "contentEncoding") ?? NullIfEmpty(request.Headers.ContentEncoding.ToString()),
        };
        var pre = Preconditions.From(request.Query);
        pre.CheckWrite(store.TryGet(bucket, draft.Name));
        using var staging = store.CreateStaging();
        await staging.AppendAsync(request.Body, 0, context.RequestAborted);
        var obj = store.Commit(draft, staging, pre, "media upload");
        return Json.Ok(Json.ObjectResource(obj, Json.BaseUrl(request)));
    }

    private static async Task<IResult> MultipartAsync(HttpContext context, string bucket, ObjectStore store)
    {
        var request = context.Request;
        var (draft, staging) = await ReadMultipartAsync(context, bucket, store);
        using (staging)
        {
            var obj = store.Commit(draft, staging, Preconditions.From(request.Query), "multipart upload");
            return Json.Ok(Json.ObjectResource(obj, Json.BaseUrl(request)));
        }
    }

    /// <summary>Reads a multipart/related body: a JSON resource part, then the media part.</summary>
    public static async Task<(ObjectDraft Draft, StagingBlob Staging)> ReadMultipartAsync(HttpContext context, string bucket,
        ObjectStore store)
    {
        var request = context.Request;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType)
            || HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value is not { Length: > 0 } boundary)
        {
            throw GcsException.BadRequest("Multipart upload needs a multipart/related body with a boundary.");
        }

        var reader = new MultipartReader(boundary, request.Body) { BodyLengthLimit = null };
        var metadataPart = await reader.ReadNextSectionAsync(context.RequestAborted)
            ?? throw GcsException.BadRequest("Multipart upload has no metadata part.");
        using var metadataBuffer = new MemoryStream();
        await metadataPart.Body.CopyToAsync(metadataBuffer, context.RequestAborted);
        var draft = Draft(request, bucket, Json.Parse(metadataBuffer.ToArray()));

        var mediaPart = await reader.ReadNextSectionAsync(context.RequestAborted)
            ?? throw GcsException.BadRequest("Multipart upload has no media part.");
        draft = draft with { ContentType = draft.ContentType ?? mediaPart.ContentType };
        var pre = Preconditions.From(request.Query);
        pre.CheckWrite(store.TryGet(bucket, draft.Name));

        var staging = store.CreateStaging();
        try
        {
            await staging.AppendAsync(mediaPart.Body, 0, context.RequestAborted);
            return (draft, staging);
        }
        catch
        {
            staging.Dispose();
            throw;
        }
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
