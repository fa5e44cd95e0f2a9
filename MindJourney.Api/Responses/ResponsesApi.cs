using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using MindJourney.Api.Infrastructure;

namespace MindJourney.Api.Responses;

public static class ResponsesApi
{
    public const int MaxIdLength = 200;

    public static IEndpointRouteBuilder MapResponsesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api").WithTags("Responses");

        api.MapPost("/response", CreateResponse)
            .WithName("CreateResponse")
            .WithSummary("Record a participant's answer; it inherits the session's visitor number")
            .WithMetadata(new RequestSizeLimitAttribute(RequestLimits.JsonBodyBytes));

        return app;
    }

    public static async Task<Results<Created<ResponseResponse>, ProblemHttpResult>> CreateResponse(
        CreateResponseRequest request, ResponseRecorder recorder, CancellationToken cancellationToken)
    {
        if (Validate(request) is { } problem)
        {
            return problem;
        }

        if (!TryNormaliseResponseData(request.ResponseData, out var responseData))
        {
            return Problems.BadRequest("responseData must be JSON, or a string.");
        }

        var created = await recorder.RecordAsync(request.SessionId!.Value, request.LevelId!, request.QuestionId!,
            request.ResponseType!, responseData, cancellationToken);

        return created is null
            ? Problems.NotFound($"No session with id '{request.SessionId}'.")
            : TypedResults.Created($"/api/session/{created.SessionId}/responses", created);
    }

    internal static ProblemHttpResult? Validate(CreateResponseRequest request)
    {
        if (request.SessionId is null || request.SessionId == Guid.Empty)
        {
            return Problems.BadRequest("sessionId is required.");
        }

        if (string.IsNullOrWhiteSpace(request.LevelId) || request.LevelId.Length > MaxIdLength)
        {
            return Problems.BadRequest($"levelId is required, at most {MaxIdLength} characters.");
        }

        if (string.IsNullOrWhiteSpace(request.QuestionId) || request.QuestionId.Length > MaxIdLength)
        {
            return Problems.BadRequest($"questionId is required, at most {MaxIdLength} characters.");
        }

        if (!ResponseTypes.IsKnown(request.ResponseType))
        {
            return Problems.BadRequest($"responseType must be one of: {string.Join(", ", ResponseTypes.All)}.");
        }

        return null;
    }

    /// <summary>The original client sends <c>responseData</c> as a string holding JSON; store the JSON it holds,
    /// or the plain string as a JSON string when it holds none.</summary>
    internal static bool TryNormaliseResponseData(JsonElement? value, out string json)
    {
        json = "null";
        if (value is not { } element || element.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return true;
        }

        if (element.ValueKind == JsonValueKind.String)
        {
            var text = element.GetString()!;
            try
            {
                using var inner = JsonDocument.Parse(text);
                json = inner.RootElement.GetRawText();
            }
            catch (JsonException)
            {
                json = element.GetRawText();
            }

            return true;
        }

        json = element.GetRawText();
        return true;
    }
}
