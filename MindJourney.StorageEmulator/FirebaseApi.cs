using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace MindJourney.StorageEmulator;

/// <summary>
/// Firebase Storage REST routes: <c>GET /v0/b/{bucket}/o/{url-encoded name}</c> (metadata, or content with
/// <c>alt=media</c>), <c>GET /v0/b/{bucket}/o</c> (list), <c>DELETE</c>, and a simple <c>POST ?name=</c> upload
/// (raw body or multipart/related). Errors use Firebase's <c>{"error":{"code","message"}}</c> shape.
/// </summary>
internal static class FirebaseApi
{
    private const string TokenKey = "firebaseStorageDownloadTokens";

    public static void MapFirebaseApi(this IEndpointRouteBuilder app)
    {
        var v0 = app.MapGroup("/v0/b/{bucket}/o");
        v0.MapGet("", List);
        v0.MapPost("", Upload);
        v0.MapMethods("/{**name}", [HttpMethods.Get, HttpMethods.Head], Get);
        v0.MapDelete("/{**name}", (HttpContext c, string bucket, ObjectStore s) =>
        {
            s.Delete(bucket, GcsJsonApi.ObjectName(c, bucket), null, Preconditions.None);
            return Results.NoContent();
        });
    }

    private static async Task<IResult> Get(HttpContext context, string bucket, ObjectStore store)
    {
        var name = GcsJsonApi.ObjectName(context, bucket);
        if (string.Equals(Query.String(context.Request.Query, "alt"), "media", StringComparison.Ordinal))
        {
            await Downloads.ServeAsync(context, store, bucket, name, null, Preconditions.None);
            return Results.Empty;
        }

        return Json.Ok(Metadata(store.Get(bucket, name, null)));
    }

    private static IResult List(HttpContext context, string bucket, ObjectStore store)
    {
        var query = context.Request.Query;
        var page = store.List(bucket, new ListRequest(
            Query.String(query, "prefix"), Query.String(query, "delimiter"),
            (int)Math.Clamp(Query.Long(query, "maxResults") ?? 1000, 1, 1000),
            Query.String(query, "pageToken"), null, null, false));
        var body = new JsonObject
        {
            ["prefixes"] = new JsonArray(page.Prefixes.Select(p => (JsonNode)JsonValue.Create(p)!).ToArray()),
            ["items"] = new JsonArray(page.Items
                .Select(o => (JsonNode)new JsonObject { ["name"] = o.Name, ["bucket"] = o.Bucket }).ToArray()),
        };
        if (page.NextPageToken is not null)
        {
            body["nextPageToken"] = page.NextPageToken;
        }

        return Json.Ok(body);
    }

    private static async Task<IResult> Upload(HttpContext context, string bucket, ObjectStore store)
    {
        var request = context.Request;
        ObjectDraft draft;
        StagingBlob staging;
        if (request.ContentType?.StartsWith("multipart/", StringComparison.OrdinalIgnoreCase) == true)
        {
            (draft, staging) = await GcsUploads.ReadMultipartAsync(context, bucket, store);
        }
        else
        {
            draft = GcsUploads.Draft(request, bucket, []) with { ContentType = request.ContentType };
            staging = store.CreateStaging();
            try
            {
                await staging.AppendAsync(request.Body, 0, context.RequestAborted);
            }
            catch
            {
                staging.Dispose();
                throw;
            }
        }

        using (staging)
        {
            return Json.Ok(Metadata(store.Commit(draft, staging, Preconditions.None, "firebase upload")));
        }
    }

    /// <summary>The Firebase metadata resource.</summary>
    public static JsonObject Metadata(StoredObject o)
    {
        var custom = o.Metadata?.Where(kv => kv.Key != TokenKey).ToDictionary(kv => kv.Key, kv => kv.Value);
        var fileName = o.Name[(o.Name.LastIndexOf('/') + 1)..];
        return new JsonObject
        {
            ["name"] = o.Name,
            ["bucket"] = o.Bucket,
            ["generation"] = Json.Number(o.Generation),
            ["metageneration"] = Json.Number(o.Metageneration),
            ["contentType"] = o.ContentType,
            ["timeCreated"] = Json.Time(o.TimeCreated),
            ["updated"] = Json.Time(o.Updated),
            ["storageClass"] = "STANDARD",
            ["size"] = Json.Number(o.Size),
            ["md5Hash"] = o.Md5Hash,
            ["crc32c"] = o.Crc32c,
            ["etag"] = o.ETag,
            ["contentEncoding"] = o.ContentEncoding ?? "identity",
            ["contentDisposition"] = o.ContentDisposition ?? $"inline; filename*=utf-8''{Uri.EscapeDataString(fileName)}",
            ["downloadTokens"] = DownloadToken(o),
            // Firebase's REST API names custom metadata "metadata"; its SDKs call it customMetadata.
            ["metadata"] = Json.MetadataMap(custom),
            ["customMetadata"] = Json.MetadataMap(custom),
        };
    }

    /// <summary>The token stored in metadata (as Firebase does), else one stable per object version.</summary>
    private static string DownloadToken(StoredObject o)
    {
        if (o.Metadata?.GetValueOrDefault(TokenKey) is { Length: > 0 } stored)
        {
            return stored;
        }

        var hash = MD5.HashData(Encoding.UTF8.GetBytes($"{o.Bucket}/{o.Name}/{o.Generation}"));
        return new Guid(hash).ToString();
    }
}
