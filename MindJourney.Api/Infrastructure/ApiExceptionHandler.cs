using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;
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

            case Exception when RefusedByPostgres(exception) is { } refused:
                problem = new ProblemDetails
                {
                    Status = StatusCodes.Status400BadRequest,
                    Title = "Invalid request",
                    Detail = $"The request holds a value the database cannot store (SQLSTATE {refused.SqlState}). Nothing was saved.",
                };
                break;

            case InvalidOperationException when UnknownCharset(httpContext.Request) is { } charset:
                // Thrown by the JSON body reader, which cannot transcode a charset it does not know.
                problem = new ProblemDetails
                {
                    Status = StatusCodes.Status415UnsupportedMediaType,
                    Title = "Unsupported media type",
                    Detail = $"The charset '{Shorten(charset)}' is not one the server reads; send UTF-8.",
                };
                break;

            case DatabaseUnavailableException:
            case NpgsqlException db when db is not PostgresException || db.IsTransient:
            // EF Core's execution strategy wraps a lost connection ("likely due to a transient failure"): a server
            // that died mid-query is as unreachable as one that refuses connections.
            case InvalidOperationException { InnerException: NpgsqlException inner } when inner is not PostgresException
                || inner.IsTransient:
                problem = Unavailable(httpContext, "The database cannot be reached. Nothing was saved; please retry.");
                break;

            case DatabaseDeadlineException:
                // The same problem: the client retries either way, and its Idempotency-Key finds what was stored.
                DatabaseDeadline.CloseConnectionIfOutlived(httpContext);
                problem = Unavailable(httpContext,
                    "The database did not answer in time. What was sent may still be saved: retry with the same Idempotency-Key.");
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

    private static ProblemDetails Unavailable(HttpContext httpContext, string detail)
    {
        httpContext.Response.Headers.RetryAfter = "5";
        return new ProblemDetails
        {
            Status = StatusCodes.Status503ServiceUnavailable,
            Title = "Service unavailable",
            Detail = detail,
        };
    }

    /// <summary>PostgreSQL's refusal of the client's data, directly or through EF Core's DbUpdateException.</summary>
    private static PostgresException? RefusedByPostgres(Exception exception) =>
        (exception as PostgresException ?? exception.InnerException as PostgresException) is { } pg
        && PostgresErrors.IsCausedByClientData(pg)
            ? pg
            : null;

    private static string? UnknownCharset(HttpRequest request)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type) || type.Charset is not { Length: > 0 } charset)
        {
            return null;
        }

        try
        {
            Encoding.GetEncoding(charset.ToString());
            return null;
        }
        catch (ArgumentException)
        {
            return charset.ToString();
        }
    }

    private static string Shorten(string text) => text.Length > 40 ? text[..40] + "…" : text;
}
