using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace MindJourney.Api.Infrastructure;

/// <summary>Turns what a client can cause (malformed JSON, a wrong content type, an oversized body) into a 4xx
/// ProblemDetails instead of a 500, and an unreachable database into a 503 the client may retry.</summary>
internal sealed class ApiExceptionHandler(IProblemDetailsService problemDetails) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ProblemDetails problem;
        switch (exception)
        {
            case BadHttpRequestException bad:
                problem = new ProblemDetails
                {
                    Status = bad.StatusCode,
                    Title = bad.StatusCode switch
                    {
                        StatusCodes.Status413PayloadTooLarge => "Payload too large",
                        StatusCodes.Status415UnsupportedMediaType => "Unsupported media type",
                        _ => "Invalid request",
                    },
                    Detail = bad.InnerException is JsonException json ? $"{bad.Message} {json.Message}" : bad.Message,
                };
                break;

            case DatabaseUnavailableException:
            case NpgsqlException db when db is not PostgresException || db.IsTransient:
                problem = new ProblemDetails
                {
                    Status = StatusCodes.Status503ServiceUnavailable,
                    Title = "Service unavailable",
                    Detail = "The database cannot be reached. Nothing was saved; please retry.",
                };
                httpContext.Response.Headers.RetryAfter = "5";
                break;

            default:
                return false;
        }

        httpContext.Response.StatusCode = problem.Status!.Value;
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = problem,
            Exception = exception,
        });
    }
}
