using Microsoft.Extensions.Options;

namespace MindJourney.Api.Storage;

/// <summary>
/// The global ceiling on pending bytes (<see cref="StorageOptions.MaxPendingBytes"/>): the files' durable copies in the
/// outbox; an answer's text holds none (its object is written from its row) and counts nothing. The total is the last count of
/// the outbox (at most <see cref="PendingCountCache.Lifetime"/> old, recounted in the background) plus what this
/// instance reserved since, so an upload costs no query. Each replica sees the others' uploads only at its next count:
/// the ceiling can be passed by what the other replicas accept within that time, and is otherwise exact or high
/// (deliveries lower the total only at the next count).
/// </summary>
public sealed class PendingBytesCeiling(DeliveryOutbox outbox, PendingCountCache cache, IOptions<StorageOptions> options)
{
    /// <summary>Share of the ceiling at which /health turns Degraded.</summary>
    public const double WarningShare = 0.8;

    public long Max => options.Value.MaxPendingBytes;

    /// <summary>Pending bytes as this instance knows them.</summary>
    public async ValueTask<long> TotalAsync(CancellationToken cancellationToken)
    {
        var counted = cache.ReadBytes(() => outbox.CountPendingTotalsAsync())
            ?? (await outbox.CountPendingTotalsAsync(cancellationToken)).ChunkBytes;
        return counted + cache.LocalBytes;
    }

    /// <summary>Whether nothing more fits: a multipart upload is refused before its body is read.</summary>
    public async ValueTask<bool> IsFullAsync(CancellationToken cancellationToken) => await TotalAsync(cancellationToken) >= Max;

    /// <summary>Reserves <paramref name="bytes"/> under the ceiling; false (nothing reserved) when they do not fit.</summary>
    public async ValueTask<bool> TryReserveAsync(long bytes, CancellationToken cancellationToken)
    {
        var counted = await TotalAsync(cancellationToken) - cache.LocalBytes;
        cache.AddLocal(bytes);
        if (counted + cache.LocalBytes <= Max)
        {
            return true;
        }

        cache.AddLocal(-bytes);
        return false;
    }

    /// <summary>Gives back a reservation whose upload was not recorded.</summary>
    public void Release(long bytes) => cache.AddLocal(-bytes);
}
