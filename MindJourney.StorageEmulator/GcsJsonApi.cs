using System.Text.Json.Nodes;

namespace MindJourney.StorageEmulator;

/// <summary>The metadata part of the Cloud Storage JSON API (<c>/storage/v1</c>) and media download routes.</summary>
internal static class GcsJsonApi
{
    /// <summary>
    /// The API answers under <c>/storage/v1</c> (a client whose BaseUri is <c>http://host/storage/v1/</c>, like
    /// production's) and under the root (what Google.Cloud.Storage.V1 calls when BaseUri is <c>http://host/</c>,
    /// the documented emulator setting, or when STORAGE_EMULATOR_HOST is detected: <c>GET /b/{bucket}/o/{object}</c>).
    /// </summary>
    public static void MapGcsJsonApi(this IEndpointRouteBuilder app)
    {
        MapApi(app.MapGroup("/storage/v1"));
        MapApi(app.MapGroup(""));
        app.MapMethods("/download/storage/v1/b/{bucket}/o/{**name}", [HttpMethods.Get, HttpMethods.Head],
            (HttpContext c, string bucket, ObjectStore s) =>
                Downloads.ServeAsync(c, s, bucket, ObjectName(c, bucket),
                    Query.Long(c.Request.Query, "generation"), Preconditions.From(c.Request.Query)));
    }

    private static void MapApi(RouteGroupBuilder api)
    {

        api.MapGet("/b", ListBuckets);
        api.MapPost("/b", InsertBucket);
        api.MapGet("/b/{bucket}", GetBucket);
        api.MapPatch("/b/{bucket}", (HttpContext c, string bucket, ObjectStore s) => ModifyBucket(c, bucket, s, replace: false));
        api.MapPut("/b/{bucket}", (HttpContext c, string bucket, ObjectStore s) => ModifyBucket(c, bucket, s, replace: true));
        api.MapDelete("/b/{bucket}", DeleteBucket);

        api.MapGet("/b/{bucket}/o", ListObjects);
        api.MapMethods("/b/{bucket}/o/{**name}", [HttpMethods.Get, HttpMethods.Head], GetObject);
        api.MapPatch("/b/{bucket}/o/{**name}", (HttpContext c, string bucket, ObjectStore s) => ModifyObject(c, bucket, s, replace: false));
        api.MapPut("/b/{bucket}/o/{**name}", (HttpContext c, string bucket, ObjectStore s) => ModifyObject(c, bucket, s, replace: true));
        api.MapDelete("/b/{bucket}/o/{**name}", DeleteObject);
    }

    internal static string ObjectName(HttpContext context, string bucket)
    {
        var name = RawPath.ObjectName(context, bucket);
        ObjectStore.ValidateObjectName(name);
        return name;
    }

    // ---------------------------------------------------------------- buckets

    private static IResult ListBuckets(HttpContext context, ObjectStore store)
    {
        var query = context.Request.Query;
        var max = (int)Math.Clamp(Query.Long(query, "maxResults") ?? 1000, 1, 1000);
        var after = Query.String(query, "pageToken") is { } token ? PageToken.Decode(token).Key : null;
        var all = store.ListBuckets(Query.String(query, "prefix"))
            .Where(b => after is null || string.CompareOrdinal(b.Name, after) > 0).ToList();
        var page = all.Take(max).ToList();
        var baseUrl = Json.BaseUrl(context.Request);
        var body = new JsonObject { ["kind"] = "storage#buckets" };
        if (all.Count > page.Count)
        {
            body["nextPageToken"] = PageToken.Encode(false, page[^1].Name);
        }

        if (page.Count > 0)
        {
            body["items"] = new JsonArray(page.Select(b => (JsonNode)Json.BucketResource(b, baseUrl)).ToArray());
        }

        return Json.Ok(body);
    }

    private static async Task<IResult> InsertBucket(HttpContext context, ObjectStore store)
    {
        var body = await Json.ReadObjectAsync(context.Request, context.RequestAborted);
        var name = Json.String(body, "name") ?? throw GcsException.Required("bucket name");
        var record = store.CreateBucket(name, body);
        return Json.Ok(Json.BucketResource(record, Json.BaseUrl(context.Request)));
    }

    private static IResult GetBucket(HttpContext context, string bucket, ObjectStore store)
    {
        var record = store.GetBucket(bucket);
        var pre = Preconditions.From(context.Request.Query);
        if ((pre.IfMetagenerationMatch is { } m && m != record.Metageneration)
            || (pre.IfMetagenerationNotMatch is { } n && n == record.Metageneration))
        {
            throw GcsException.PreconditionFailed();
        }

        return Json.Ok(Json.BucketResource(record, Json.BaseUrl(context.Request)));
    }

    private static async Task<IResult> ModifyBucket(HttpContext context, string bucket, ObjectStore store, bool replace)
    {
        var body = await Json.ReadObjectAsync(context.Request, context.RequestAborted);
        var record = store.ModifyBucket(bucket, Preconditions.From(context.Request.Query), body, replace);
        return Json.Ok(Json.BucketResource(record, Json.BaseUrl(context.Request)));
    }

    private static IResult DeleteBucket(HttpContext context, string bucket, ObjectStore store)
    {
        store.DeleteBucket(bucket, Preconditions.From(context.Request.Query));
        return Results.NoContent();
    }

    // ---------------------------------------------------------------- objects

    private static IResult ListObjects(HttpContext context, string bucket, ObjectStore store)
    {
        var query = context.Request.Query;
        var request = new ListRequest(
            Query.String(query, "prefix"),
            Query.String(query, "delimiter"),
            (int)Math.Clamp(Query.Long(query, "maxResults") ?? 1000, 1, 1000),
            Query.String(query, "pageToken"),
            Query.String(query, "startOffset"),
            Query.String(query, "endOffset"),
            Query.Bool(query, "includeTrailingDelimiter"));
        var page = store.List(bucket, request);
        var baseUrl = Json.BaseUrl(context.Request);
        var body = new JsonObject { ["kind"] = "storage#objects" };
        if (page.NextPageToken is not null)
        {
            body["nextPageToken"] = page.NextPageToken;
        }

        if (page.Prefixes.Count > 0)
        {
            body["prefixes"] = new JsonArray(page.Prefixes.Select(p => (JsonNode)JsonValue.Create(p)!).ToArray());
        }

        if (page.Items.Count > 0)
        {
            body["items"] = new JsonArray(page.Items.Select(o => (JsonNode)Json.ObjectResource(o, baseUrl)).ToArray());
        }

        return Json.Ok(body);
    }

    private static async Task<IResult> GetObject(HttpContext context, string bucket, ObjectStore store)
    {
        var name = ObjectName(context, bucket);
        var query = context.Request.Query;
        var generation = Query.Long(query, "generation");
        var pre = Preconditions.From(query);
        if (string.Equals(Query.String(query, "alt"), "media", StringComparison.Ordinal))
        {
            await Downloads.ServeAsync(context, store, bucket, name, generation, pre);
            return Results.Empty;
        }

        var obj = store.Get(bucket, name, generation);
        pre.CheckRead(obj);
        return Json.Ok(Json.ObjectResource(obj, Json.BaseUrl(context.Request)));
    }

    private static async Task<IResult> ModifyObject(HttpContext context, string bucket, ObjectStore store, bool replace)
    {
        var name = ObjectName(context, bucket);
        var query = context.Request.Query;
        var body = await Json.ReadObjectAsync(context.Request, context.RequestAborted);
        var updated = store.Modify(bucket, name, Query.Long(query, "generation"), Preconditions.From(query),
            current => replace ? Replace(current, body) : Patch(current, body),
            replace ? "Updated" : "Patched");
        return Json.Ok(Json.ObjectResource(updated, Json.BaseUrl(context.Request)));
    }

    /// <summary>PATCH: only the fields present change; metadata keys merge and a null value removes a key.</summary>
    private static StoredObject Patch(StoredObject current, JsonObject body) => current with
    {
        ContentType = body.ContainsKey("contentType")
            ? Json.String(body, "contentType") ?? "application/octet-stream"
            : current.ContentType,
        CacheControl = body.ContainsKey("cacheControl") ? Empty(Json.String(body, "cacheControl")) : current.CacheControl,
        ContentDisposition = body.ContainsKey("contentDisposition")
            ? Empty(Json.String(body, "contentDisposition"))
            : current.ContentDisposition,
        ContentEncoding = body.ContainsKey("contentEncoding") ? Empty(Json.String(body, "contentEncoding")) : current.ContentEncoding,
        ContentLanguage = body.ContainsKey("contentLanguage") ? Empty(Json.String(body, "contentLanguage")) : current.ContentLanguage,
        CustomTime = body.ContainsKey("customTime") ? Json.Time(body, "customTime") : current.CustomTime,
        Metadata = Json.MergeMap(current.Metadata, body, "metadata"),
    };

    /// <summary>PUT (update): the writable fields become exactly what the body holds.</summary>
    private static StoredObject Replace(StoredObject current, JsonObject body) => current with
    {
        ContentType = Json.String(body, "contentType") ?? current.ContentType,
        CacheControl = Empty(Json.String(body, "cacheControl")),
        ContentDisposition = Empty(Json.String(body, "contentDisposition")),
        ContentEncoding = Empty(Json.String(body, "contentEncoding")),
        ContentLanguage = Empty(Json.String(body, "contentLanguage")),
        CustomTime = Json.Time(body, "customTime"),
        Metadata = Json.StringMap(body, "metadata") is { Count: > 0 } map ? map : null,
    };

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static IResult DeleteObject(HttpContext context, string bucket, ObjectStore store)
    {
        var name = ObjectName(context, bucket);
        var query = context.Request.Query;
        store.Delete(bucket, name, Query.Long(query, "generation"), Preconditions.From(query));
        return Results.NoContent();
    }
}
