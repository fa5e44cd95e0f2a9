using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;

namespace MindJourney.Api.Infrastructure;

/// <summary>RFC 9457 problem results with the contract's shape: status, title, detail.</summary>
public static class Problems
{
    public static ProblemHttpResult BadRequest(string detail) => Create(StatusCodes.Status400BadRequest, "Invalid request", detail);
    public static ProblemHttpResult NotFound(string detail) => Create(StatusCodes.Status404NotFound, "Not found", detail);
    public static ProblemHttpResult Conflict(string detail) => Create(StatusCodes.Status409Conflict, "Conflict", detail);
    public static ProblemHttpResult Unauthorized(string detail) => Create(StatusCodes.Status401Unauthorized, "Unauthorized", detail);
    public static ProblemHttpResult UnprocessableEntity(string detail) =>
        Create(StatusCodes.Status422UnprocessableEntity, "Unprocessable request", detail);
    public static ProblemHttpResult PayloadTooLarge(string detail) =>
        Create(StatusCodes.Status413PayloadTooLarge, "Payload too large", detail);
    public static ProblemHttpResult UnsupportedMediaType(string detail) =>
        Create(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type", detail);

    public static ProblemHttpResult Create(int status, string title, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: title);

    /// <summary>A problem a client tells apart by its <paramref name="type"/>: a relative URI under
    /// <see cref="TypePrefix"/> (RFC 9457), e.g. <c>/problems/study-full</c>.</summary>
    public static ProblemHttpResult Create(int status, string title, string detail, string type) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: title, type: TypePrefix + type);

    /// <summary>400 with every broken rule, keyed by the field's path as the client wrote it
    /// (<c>levels[0].questions[1].id</c>), like ASP.NET Core's ValidationProblem.</summary>
    public static ValidationProblem Invalid(IDictionary<string, string[]> errors) => TypedResults.ValidationProblem(errors,
        detail: "The request breaks " + (errors.Count == 1 ? "a rule" : $"{errors.Count} rules") + ": see errors.",
        title: "Invalid request", type: TypePrefix + "validation");

    public const string TypePrefix = "/problems/";

    /// <summary>Every problem says what went wrong, and has a type under <see cref="TypePrefix"/>, also those the
    /// framework writes for a bare status (no route, wrong method, wrong content type).</summary>
    public static void AddDefaultDetail(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        // Every refusal's type is a relative URI under /problems/ (RFC 9457): its own when it has one
        // (/problems/study-full), else its status's (/problems/not-found) instead of a link to the HTTP RFC.
        if (problem.Type is null || !problem.Type.StartsWith(TypePrefix, StringComparison.Ordinal))
        {
            problem.Type = problem.Status is { } code && ReasonPhrases.GetReasonPhrase(code) is { Length: > 0 } phrase
                ? TypePrefix + phrase.ToLowerInvariant().Replace(' ', '-')
                : TypePrefix + "refused";
        }

        problem.Detail ??= problem.Status switch
        {
            StatusCodes.Status404NotFound => "Nothing is found at this address.",
            StatusCodes.Status405MethodNotAllowed => $"This address does not take {context.HttpContext.Request.Method} requests.",
            StatusCodes.Status413PayloadTooLarge => "The request body is too large.",
            StatusCodes.Status415UnsupportedMediaType => "Send application/json (UTF-8).",
            { } status => ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } reason ? reason + "." : "The request was refused.",
            null => "The request was refused.",
        };
    }
}
