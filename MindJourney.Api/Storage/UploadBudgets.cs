using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Telemetry;

namespace MindJourney.Api.Storage;

/// <summary>
/// The byte budgets an upload (a file, or a text answer written to storage) passes before anything is written: its
/// client's bytes per hour (<see cref="ClientUploadBytes"/>, 429) and the ceiling on everyone's pending bytes
/// (<see cref="PendingBytesCeiling"/>, 507). A multipart upload is refused before its body is read when either is
/// already spent; every upload reserves its exact size once it is known and gives it back if it is not recorded.
/// </summary>
public sealed class UploadBudgets(ClientUploadBytes clients, PendingBytesCeiling ceiling, VisitorNumberingTelemetry telemetry)
{
    /// <summary>The per-client byte budget's name in <c>mindjourney.visitor_number.rate_limited</c>.</summary>
    public const string ClientBytesPolicy = "upload-bytes";

    /// <summary>Pending uploads drain as storage takes them: a minute is a fair first wait.</summary>
    public const int FullRetryAfterSeconds = 60;

    /// <summary>A refusal before the body is read, or null.</summary>
    public async ValueTask<ProblemHttpResult?> RefuseEarlyAsync(HttpContext http, CancellationToken cancellationToken)
    {
        if (clients.SpentFor(ClientAddress.PartitionKey(http)) is { } wait)
        {
            return ClientSpent(http, wait);
        }

        return await ceiling.IsFullAsync(cancellationToken) ? Full(http) : null;
    }

    /// <summary>Reserves <paramref name="bytes"/> in both budgets; a refusal reserves nothing. An answer's text
    /// (<paramref name="copiedToOutbox"/> false) passes only its client's budget: the outbox holds no copy of it (its
    /// object is written from the answer's own row), so it adds nothing to the pending bytes.</summary>
    public async ValueTask<(UploadReservation? Reservation, ProblemHttpResult? Refusal)> ReserveAsync(
        HttpContext http, long bytes, CancellationToken cancellationToken, bool copiedToOutbox = true)
    {
        var client = ClientAddress.PartitionKey(http);
        if (clients.TryReserve(client, bytes) is { } wait)
        {
            return (null, ClientSpent(http, wait));
        }

        if (!copiedToOutbox)
        {
            return (new UploadReservation(() => clients.Release(client, bytes), () => { }), null);
        }

        if (!await ceiling.TryReserveAsync(bytes, cancellationToken))
        {
            clients.Release(client, bytes);
            return (null, Full(http));
        }

        return (new UploadReservation(() => clients.Release(client, bytes), () => ceiling.Release(bytes)), null);
    }

    private ProblemHttpResult ClientSpent(HttpContext http, int retryAfterSeconds)
    {
        telemetry.RateLimited.Add(1, new KeyValuePair<string, object?>(RateLimiting.PolicyTag, ClientBytesPolicy));
        http.Response.Headers.RetryAfter = retryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return Problems.Create(StatusCodes.Status429TooManyRequests, "Too many requests",
            $"This address has uploaded as many bytes as it may this hour. Retry after {retryAfterSeconds} s.");
    }

    private static ProblemHttpResult Full(HttpContext http)
    {
        http.Response.Headers.RetryAfter = FullRetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return Problems.Create(StatusCodes.Status507InsufficientStorage, "Insufficient storage",
            $"The server holds as many uploads waiting for storage as it may. Retry after {FullRetryAfterSeconds} s.");
    }
}

/// <summary>Bytes reserved for one upload: kept once it is recorded, given back otherwise. An upload recorded as
/// stored keeps its client's bytes but holds nothing pending: <see cref="ReleasePending"/>.</summary>
public sealed class UploadReservation(Action releaseClient, Action releasePending)
{
    private int _clientReleased;
    private int _pendingReleased;

    public void Release()
    {
        if (Interlocked.Exchange(ref _clientReleased, 1) == 0)
        {
            releaseClient();
        }

        ReleasePending();
    }

    public void ReleasePending()
    {
        if (Interlocked.Exchange(ref _pendingReleased, 1) == 0)
        {
            releasePending();
        }
    }
}
