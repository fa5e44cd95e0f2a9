using System.Text.Json.Nodes;

namespace MindJourney.StorageEmulator;

/// <summary>An error to be answered in Google's JSON error shape (or Firebase's, on /v0 routes).</summary>
internal sealed class GcsException(int status, string reason, string message) : Exception(message)
{
    public int Status { get; } = status;
    public string Reason { get; } = reason;

    public static GcsException NoSuchObject(string bucket, string name) =>
        new(StatusCodes.Status404NotFound, "notFound", $"No such object: {bucket}/{name}");

    public static GcsException NoSuchBucket(string bucket) =>
        new(StatusCodes.Status404NotFound, "notFound", "The specified bucket does not exist.");

    public static GcsException BadRequest(string message, string reason = "invalid") =>
        new(StatusCodes.Status400BadRequest, reason, message);

    public static GcsException Required(string what) =>
        new(StatusCodes.Status400BadRequest, "required", $"Required {what}");

    public static GcsException PreconditionFailed() =>
        new(StatusCodes.Status412PreconditionFailed, "conditionNotMet",
            "At least one of the pre-conditions you specified did not hold.");

    public static GcsException NotModified() =>
        new(StatusCodes.Status304NotModified, "notModified", "Not Modified");

    public static GcsException Conflict(string message) =>
        new(StatusCodes.Status409Conflict, "conflict", message);
}

internal static class GcsErrors
{
    public static JsonObject Body(int status, string reason, string message) => new()
    {
        ["error"] = new JsonObject
        {
            ["code"] = status,
            ["message"] = message,
            ["errors"] = new JsonArray(new JsonObject
            {
                ["message"] = message,
                ["domain"] = "global",
                ["reason"] = reason,
            }),
        },
    };

    /// <summary>Firebase Storage's REST error shape: <c>{"error":{"code":404,"message":"Not Found."}}</c>.</summary>
    public static JsonObject FirebaseBody(int status, string message) => new()
    {
        ["error"] = new JsonObject { ["code"] = status, ["message"] = message },
    };

    public static async Task WriteAsync(HttpContext context, int status, string reason, string message,
        Action<HttpResponse>? decorate = null)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            context.Abort();
            return;
        }

        response.Clear();
        response.StatusCode = status;
        decorate?.Invoke(response);
        if (status == StatusCodes.Status304NotModified)
        {
            return;
        }

        var firebase = context.Request.Path.StartsWithSegments("/v0", StringComparison.Ordinal);
        var body = firebase ? FirebaseBody(status, message) : Body(status, reason, message);
        response.ContentType = "application/json; charset=UTF-8";
        await response.WriteAsync(body.ToJsonString(Json.Output), context.RequestAborted);
    }

    /// <summary>Turns <see cref="GcsException"/> and malformed requests into JSON errors.</summary>
    public static IApplicationBuilder UseGcsErrors(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        try
        {
            await next(context);
        }
        catch (GcsException ex)
        {
            await WriteAsync(context, ex.Status, ex.Reason, ex.Message);
        }
        catch (BadHttpRequestException ex)
        {
            await WriteAsync(context, ex.StatusCode, ex.StatusCode == 413 ? "uploadTooLarge" : "invalid", ex.Message);
        }
        catch (System.Text.Json.JsonException ex)
        {
            await WriteAsync(context, 400, "parseError", "Parse Error: " + ex.Message);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // Client went away; nothing to answer.
        }
        catch (IOException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
    });
}
