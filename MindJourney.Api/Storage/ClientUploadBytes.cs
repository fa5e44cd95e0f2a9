using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace MindJourney.Api.Storage;

/// <summary>
/// Bytes of accepted uploads per client address and hour (<see cref="StorageOptions.UploadBytesPerClientPerHour"/>):
/// a fixed window per client that starts with its first upload. Bytes are reserved before the upload is recorded and
/// given back when it is not, so only accepted uploads count. Per instance: behind several replicas a client gets the
/// budget once per replica it reaches.
/// </summary>
public sealed class ClientUploadBytes(IOptions<StorageOptions> options)
{
    public static readonly TimeSpan Window = TimeSpan.FromHours(1);

    private static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, Usage> _clients = new();
    private long _sweptAt;

    private long Limit => options.Value.UploadBytesPerClientPerHour;

    /// <summary>Seconds until <paramref name="client"/> may upload again when its budget is spent; else null.</summary>
    public int? SpentFor(string client)
    {
        if (Limit <= 0 || !_clients.TryGetValue(client, out var usage))
        {
            return null;
        }

        lock (usage)
        {
            var now = Environment.TickCount64;
            return usage.IsCurrent(now) && usage.Bytes >= Limit ? usage.SecondsLeft(now) : null;
        }
    }

    /// <summary>Reserves <paramref name="bytes"/> of <paramref name="client"/>'s budget; when they do not fit, nothing
    /// is reserved and the answer is the seconds until the client's window ends.</summary>
    public int? TryReserve(string client, long bytes)
    {
        if (Limit <= 0)
        {
            return null;
        }

        Sweep();
        while (true)
        {
            var usage = _clients.GetOrAdd(client, _ => new Usage());
            lock (usage)
            {
                if (usage.Removed)
                {
                    continue; // the sweep took it meanwhile: use the new one
                }

                var now = Environment.TickCount64;
                if (!usage.IsCurrent(now))
                {
                    usage.StartedAt = now;
                    usage.Bytes = 0;
                }

                if (usage.Bytes + bytes > Limit)
                {
                    return usage.SecondsLeft(now);
                }

                usage.Bytes += bytes;
                return null;
            }
        }
    }

    /// <summary>Gives back a reservation whose upload was not recorded.</summary>
    public void Release(string client, long bytes)
    {
        if (Limit > 0 && _clients.TryGetValue(client, out var usage))
        {
            lock (usage)
            {
                usage.Bytes = Math.Max(0, usage.Bytes - bytes);
            }
        }
    }

    /// <summary>Forgets the clients whose window ended, at most once a minute, so the map holds the last hour's.</summary>
    private void Sweep()
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _sweptAt);
        if (now - last < SweepInterval.TotalMilliseconds || Interlocked.CompareExchange(ref _sweptAt, now, last) != last)
        {
            return;
        }

        foreach (var (client, usage) in _clients)
        {
            lock (usage)
            {
                if (!usage.IsCurrent(now))
                {
                    usage.Removed = true;
                    _clients.TryRemove(new KeyValuePair<string, Usage>(client, usage));
                }
            }
        }
    }

    private sealed class Usage
    {
        public long StartedAt { get; set; }

        public long Bytes { get; set; }

        public bool Removed { get; set; }

        public bool IsCurrent(long now) => Bytes > 0 && now - StartedAt < Window.TotalMilliseconds;

        public int SecondsLeft(long now) => Math.Max(1, (int)Math.Ceiling((Window.TotalMilliseconds - (now - StartedAt)) / 1000));
    }
}
