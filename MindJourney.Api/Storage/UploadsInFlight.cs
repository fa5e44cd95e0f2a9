using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using MindJourney.Api.Infrastructure;

namespace MindJourney.Api.Storage;

/// <summary>
/// Uploads in flight per client address (<see cref="StorageOptions.MaxUploadsInFlightPerClient"/>): an upload
/// holds a spool file, a slice of memory and then a bulk connection, so one client looping uploads in parallel
/// cannot take them all. Only multipart answers to the endpoint marked <see cref="CountsUploadsInFlight"/> count (the
/// endpoint routing chose, however the path was spelled); JSON answers pass freely. It is the rate limiter's global
/// limiter (the route's own policy is its per-client window), so it costs every other request one metadata lookup.
/// </summary>
public static class UploadsInFlight
{
    private const int RetryAfterSeconds = 5;

    /// <summary>The endpoint whose multipart requests are uploads.</summary>
    public static TBuilder CountsUploadsInFlight<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(UploadEndpoint.Instance);

    public static IServiceCollection AddUploadsInFlightLimit(this IServiceCollection services)
    {
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<StorageOptions>>((limiter, storage) =>
        {
            var limit = storage.Value.MaxUploadsInFlightPerClient;
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
                limit <= 0 || !IsUpload(http)
                    ? RateLimitPartition.GetNoLimiter("")
                    : RateLimitPartition.GetConcurrencyLimiter(ClientAddress.PartitionKey(http),
                        _ => new ConcurrencyLimiterOptions { PermitLimit = limit, QueueLimit = 0 }));

            // Endpoint policies answer their own refusals: only the global limiter's come here.
            limiter.OnRejected = (context, _) => RateLimiting.RefuseAsync(context.HttpContext, RateLimiting.UploadsInFlight,
                RetryAfterSeconds, $"This address has {limit} uploads in progress already. Retry after {RetryAfterSeconds} s.");
        });
        return services;
    }

    /// <summary>Routing has chosen the endpoint by now (it runs before the rate limiter): its metadata says what it is.</summary>
    private static bool IsUpload(HttpContext http) =>
        http.GetEndpoint()?.Metadata.GetMetadata<UploadEndpoint>() is not null && IsMultipart(http.Request);

    /// <summary>A <c>multipart/form-data</c> body: on the answers endpoint, an upload.</summary>
    public static bool IsMultipart(HttpRequest request) =>
        MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
        && type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase);

    private sealed class UploadEndpoint
    {
        public static readonly UploadEndpoint Instance = new();
    }
}
