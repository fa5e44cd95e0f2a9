using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Responses;

namespace MindJourney.Api.Storage;

/// <summary>
/// Uploads in flight per client address (<see cref="StorageOptions.MaxUploadsInFlightPerClient"/>): an upload
/// holds a spool file, a slice of memory and then a bulk connection, so one client looping uploads in parallel
/// cannot take them all. Only multipart requests count; JSON answers on the same route pass freely.
/// </summary>
public sealed class UploadsInFlightPolicy(IOptions<StorageOptions> options) : IRateLimiterPolicy<string>
{
    public const string Name = "uploads-in-flight";

    private const int RetryAfterSeconds = 5;

    public RateLimitPartition<string> GetPartition(HttpContext httpContext)
    {
        var limit = options.Value.MaxUploadsInFlightPerClient;
        if (limit <= 0 || !ResponseForm.IsMultipart(httpContext.Request))
        {
            return RateLimitPartition.GetNoLimiter("");
        }

        return RateLimitPartition.GetConcurrencyLimiter(ClientAddress.PartitionKey(httpContext), _ => new ConcurrencyLimiterOptions
        {
            PermitLimit = limit,
            QueueLimit = 0,
        });
    }

    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected => async (context, _) =>
    {
        var http = context.HttpContext;
        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        http.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status429TooManyRequests,
                Title = "Too many requests",
                Detail = $"This address has {options.Value.MaxUploadsInFlightPerClient} uploads in progress already. "
                    + $"Retry after {RetryAfterSeconds} s.",
            },
        });
    };
}

/// <summary>A session is at one of its limits (<see cref="StorageOptions"/>): the response is refused, nothing is
/// written.</summary>
public sealed class SessionQuotaExceededException(int statusCode, string detail) : Exception(detail)
{
    public int StatusCode { get; } = statusCode;
}
