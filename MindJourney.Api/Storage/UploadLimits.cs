using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Responses;

namespace MindJourney.Api.Storage;

/// <summary>
/// Uploads in flight per client address (<see cref="StorageOptions.MaxUploadsInFlightPerClient"/>): an upload
/// holds a spool file, a slice of memory and then a bulk connection, so one client looping uploads in parallel
/// cannot take them all. Only multipart answers count; JSON answers pass freely. It is the rate limiter's global
/// limiter (the route's own policy is its per-client window), so it costs every other request one comparison.
/// </summary>
public static class UploadsInFlight
{
    private const int RetryAfterSeconds = 5;

    public static IServiceCollection AddUploadsInFlightLimit(this IServiceCollection services)
    {
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<StorageOptions>>((limiter, storage) =>
        {
            var limit = storage.Value.MaxUploadsInFlightPerClient;
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
                limit <= 0 || !IsUpload(http.Request)
                    ? RateLimitPartition.GetNoLimiter("")
                    : RateLimitPartition.GetConcurrencyLimiter(ClientAddress.PartitionKey(http),
                        _ => new ConcurrencyLimiterOptions { PermitLimit = limit, QueueLimit = 0 }));

            // Endpoint policies answer their own refusals: only the global limiter's come here.
            limiter.OnRejected = (context, _) => RateLimiting.RefuseAsync(context.HttpContext, RateLimiting.UploadsInFlight,
                RetryAfterSeconds, $"This address has {limit} uploads in progress already. Retry after {RetryAfterSeconds} s.");
        });
        return services;
    }

    private static bool IsUpload(HttpRequest request) =>
        HttpMethods.IsPost(request.Method) && request.Path.Equals(ResponsesApi.Route, StringComparison.OrdinalIgnoreCase)
        && ResponseForm.IsMultipart(request);
}

/// <summary>A session is at one of its limits (<see cref="StorageOptions"/>): the response is refused, nothing is
/// written.</summary>
public sealed class SessionQuotaExceededException(int statusCode, string detail) : Exception(detail)
{
    public int StatusCode { get; } = statusCode;
}
