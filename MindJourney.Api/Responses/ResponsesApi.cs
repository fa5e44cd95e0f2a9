using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Sessions;
using MindJourney.Api.Storage;

namespace MindJourney.Api.Responses;

public static class ResponsesApi
{
    /// <summary>Where answers and uploads arrive.</summary>
    public const string Route = "/api/response";

    public const int MaxIdLength = 200;

    public const int DefaultResponsesPage = 100;
    public const int MaxResponsesPage = 500;

    /// <summary>Room for the form fields and multipart framing around the largest file.</summary>
    private const long FormOverheadBytes = 64 * 1024;

    public static IEndpointRouteBuilder MapResponsesApi(this IEndpointRouteBuilder app)
    {
        // One route, two forms: JSON answers keep the 1 MiB limit (set per request by ResponseIntake), a multipart
        // upload may carry the largest media file plus its fields.
        var storage = app.ServiceProvider.GetRequiredService<IOptions<StorageOptions>>().Value;
        var multipartLimit = storage.MaxMediaBytes + Math.Max(storage.MaxTextBytes, RequestLimits.JsonBodyBytes) + FormOverheadBytes;
        var api = app.MapGroup(Route)
            .WithTags("Responses")
            .WithRequestValidation();

        api.MapPost("", CreateResponse)
            .WithName("CreateResponse")
            .WithSummary("Record a participant's answer (JSON, or multipart with a file); it inherits the session's visitor number")
            .Accepts<CreateResponseRequest>("application/json", "multipart/form-data")
            .WithMetadata(new RequestSizeLimitAttribute(multipartLimit))
            .RequireRateLimiting(RateLimiting.ResponsePolicy)
            .CountsUploadsInFlight();

        // A session's answers: its secret (returned by CreateSession) or the admin key.
        app.MapGroup("/api/session/{id:guid}")
            .WithTags("Sessions")
            .WithMetadata(new RequestSizeLimitAttribute(RequestLimits.JsonBodyBytes))
            .WithRequestValidation()
            .RequireSessionSecret()
            .WithDatabaseDeadline()
            .MapGet("/responses", ListResponses)
            .WithName("ListSessionResponses")
            .RequireRateLimiting(RateLimiting.ResponsePagePolicy);

        return app;
    }

    /// <summary>The body is read by <see cref="ResponseIntake"/>: it is JSON or multipart, which no one binding takes.
    /// An <c>Idempotency-Key</c> makes a retry return the first answer (<see cref="ResponseIntake"/>).</summary>
    public static Task<Results<Created<ResponseDetails>, ProblemHttpResult>> CreateResponse(
        HttpContext http, [FromHeader(Name = SessionsApi.IdempotencyKeyHeader), IdempotencyKey] string? idempotencyKey,
        ResponseIntake intake, CancellationToken cancellationToken) =>
        intake.RecordAsync(http, idempotencyKey, cancellationToken);

    /// <summary>One page of a session's responses, oldest first (the body stays a JSON array); when more follow,
    /// a <c>Link: &lt;…?after={last id}&gt;; rel="next"</c> header points at the next page. A page ends at its count
    /// or at <c>MindJourney:Responses:MaxPageBytes</c>, whichever comes first (<see cref="ResponsePages"/>).</summary>
    public static async Task<Results<ResponsePage, ProblemHttpResult>> ListResponses(
        Guid id, [Range(1, MaxResponsesPage, ErrorMessage = "limit must be between {1} and {2}.")] int? limit, Guid? after,
        ResponsePages pages, CancellationToken cancellationToken)
    {
        var page = await pages.ReadAsync(id, limit ?? DefaultResponsesPage, after, cancellationToken);
        return page.Outcome switch
        {
            ResponsePageOutcome.NoSession => Problems.NotFound($"No session with id '{id}'."),
            ResponsePageOutcome.BadCursor => Problems.BadRequest($"after must be the id of a response of session '{id}'."),
            _ => page,
        };
    }
}
