using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace MindJourney.StorageEmulator;

/// <summary>
/// Buckets and live object versions. One lock guards the index; bytes are staged outside it and only renamed or
/// swapped under it. With a data folder, each object has a JSON sidecar (written atomically: temp file + rename)
/// and a blob file, and the index is rebuilt from the sidecars at start.
/// </summary>
internal sealed partial class ObjectStore
{
    private static readonly JsonSerializerOptions SidecarJson = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
    };

    private readonly Lock _gate = new();
    private readonly Dictionary<string, BucketState> _buckets = new(StringComparer.Ordinal);
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private long _lastGeneration;

    private sealed class BucketState(BucketRecord record)
    {
        public BucketRecord Record { get; set; } = record;
        public SortedDictionary<string, StoredObject> Objects { get; } = new(StringComparer.Ordinal);
    }

    public ObjectStore(string? dataPath, ILogger<ObjectStore> log, TimeProvider? time = null)
    {
        _log = log;
        _time = time ?? TimeProvider.System;
        if (dataPath is not null)
        {
            DataPath = Path.GetFullPath(dataPath);
            Load();
        }

        _log.LogInformation("Storage backend: {Backend}", DataPath is null ? "in memory" : $"folder {DataPath}");
    }

    /// <summary>The data folder, or null when everything is kept in memory.</summary>
    public string? DataPath { get; }

    private string TempDir => Path.Combine(DataPath!, "tmp");
    private string BucketDir(string bucket) => Path.Combine(DataPath!, "buckets", bucket);
    private string ObjectDir(string bucket) => Path.Combine(BucketDir(bucket), "objects");

    private static string Key(string name) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)));

    public StagingBlob CreateStaging() => DataPath is null
        ? StagingBlob.InMemory()
        : StagingBlob.OnDisk(Path.Combine(TempDir, Guid.NewGuid().ToString("N") + ".part"));

    private DateTimeOffset Now()
    {
        var now = _time.GetUtcNow();
        return new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
    }

    // Generations are microsecond timestamps as on GCS, kept strictly increasing.
    private long NextGeneration()
    {
        var candidate = _time.GetUtcNow().ToUnixTimeMilliseconds() * 1000;
        _lastGeneration = Math.Max(_lastGeneration + 1, candidate);
        return _lastGeneration;
    }
}
