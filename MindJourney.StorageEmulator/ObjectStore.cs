using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MindJourney.StorageEmulator;

internal sealed record ListRequest(string? Prefix, string? Delimiter, int MaxResults, string? PageToken,
    string? StartOffset, string? EndOffset, bool IncludeTrailingDelimiter);

internal sealed record ObjectPage(IReadOnlyList<StoredObject> Items, IReadOnlyList<string> Prefixes, string? NextPageToken);

/// <summary>
/// Buckets and live object versions. One lock guards the index; bytes are staged outside it and only renamed or
/// swapped under it. With a data folder, each object has a JSON sidecar (written atomically: temp file + rename)
/// and a blob file, and the index is rebuilt from the sidecars at start.
/// </summary>
internal sealed class ObjectStore
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

    // ---------------------------------------------------------------- buckets

    public static void ValidateBucketName(string name)
    {
        var ok = name.Length is >= 3 and <= 222
            && char.IsAsciiLetterLower(name[0]) | char.IsAsciiDigit(name[0])
            && char.IsAsciiLetterLower(name[^1]) | char.IsAsciiDigit(name[^1])
            && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_' or '.');
        if (!ok)
        {
            throw GcsException.BadRequest($"Invalid bucket name: '{name}'");
        }
    }

    public static void ValidateObjectName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw GcsException.Required("object name");
        }
        if (Encoding.UTF8.GetByteCount(name) > 1024 || name.Contains('\r') || name.Contains('\n')
            || name is "." or ".." || name.Contains('\0'))
        {
            throw GcsException.BadRequest($"The specified object name is not valid: '{name}'");
        }
    }

    public BucketRecord GetBucket(string name)
    {
        lock (_gate)
        {
            return _buckets.TryGetValue(name, out var state) ? state.Record : throw GcsException.NoSuchBucket(name);
        }
    }

    public IReadOnlyList<BucketRecord> ListBuckets(string? prefix)
    {
        lock (_gate)
        {
            return _buckets.Values.Select(b => b.Record)
                .Where(b => prefix is null || b.Name.StartsWith(prefix, StringComparison.Ordinal))
                .OrderBy(b => b.Name, StringComparer.Ordinal).ToList();
        }
    }

    public BucketRecord CreateBucket(string name, JsonObject? body)
    {
        ValidateBucketName(name);
        lock (_gate)
        {
            if (_buckets.ContainsKey(name))
            {
                throw GcsException.Conflict(
                    "Your previous request to create the named bucket succeeded and you already own it.");
            }
            var now = Now();
            var record = new BucketRecord
            {
                Name = name,
                TimeCreated = now,
                Updated = now,
                Location = Json.String(body, "location")?.ToUpperInvariant() ?? "US",
                StorageClass = Json.String(body, "storageClass") ?? "STANDARD",
                Labels = Json.StringMap(body, "labels"),
            };
            AddBucket(record);
            _log.LogInformation("Created bucket {Bucket}", name);
            return record;
        }
    }

    public BucketRecord ModifyBucket(string name, Preconditions pre, JsonObject body, bool replace)
    {
        lock (_gate)
        {
            var state = _buckets.TryGetValue(name, out var s) ? s : throw GcsException.NoSuchBucket(name);
            CheckBucketPreconditions(state.Record, pre);
            var labels = replace
                ? Json.StringMap(body, "labels")
                : Json.MergeMap(state.Record.Labels, body, "labels");
            var record = state.Record with
            {
                Labels = labels,
                StorageClass = Json.String(body, "storageClass") ?? state.Record.StorageClass,
                Metageneration = state.Record.Metageneration + 1,
                Updated = Now(),
            };
            state.Record = record;
            WriteBucketSidecar(record);
            _log.LogInformation("Updated bucket {Bucket} metageneration={Metageneration}", name, record.Metageneration);
            return record;
        }
    }

    public void DeleteBucket(string name, Preconditions pre)
    {
        lock (_gate)
        {
            var state = _buckets.TryGetValue(name, out var s) ? s : throw GcsException.NoSuchBucket(name);
            CheckBucketPreconditions(state.Record, pre);
            if (state.Objects.Count > 0)
            {
                throw GcsException.Conflict("The bucket you tried to delete is not empty.");
            }
            _buckets.Remove(name);
            if (DataPath is not null)
            {
                Directory.Delete(BucketDir(name), recursive: true);
            }
            _log.LogInformation("Deleted bucket {Bucket}", name);
        }
    }

    private static void CheckBucketPreconditions(BucketRecord record, Preconditions pre)
    {
        if ((pre.IfMetagenerationMatch is { } m && m != record.Metageneration)
            || (pre.IfMetagenerationNotMatch is { } n && n == record.Metageneration))
        {
            throw GcsException.PreconditionFailed();
        }
    }

    private BucketState AddBucket(BucketRecord record)
    {
        var state = new BucketState(record);
        _buckets[record.Name] = state;
        if (DataPath is not null)
        {
            Directory.CreateDirectory(ObjectDir(record.Name));
            WriteBucketSidecar(record);
        }
        return state;
    }

    private BucketState GetOrCreateBucket(string name)
    {
        if (_buckets.TryGetValue(name, out var state))
        {
            return state;
        }
        ValidateBucketName(name);
        var now = Now();
        _log.LogInformation("Created bucket {Bucket} (first upload)", name);
        return AddBucket(new BucketRecord { Name = name, TimeCreated = now, Updated = now });
    }

    private void WriteBucketSidecar(BucketRecord record)
    {
        if (DataPath is not null)
        {
            AtomicFile.Write(Path.Combine(BucketDir(record.Name), "bucket.json"),
                JsonSerializer.SerializeToUtf8Bytes(record, SidecarJson), TempDir);
        }
    }

    // ---------------------------------------------------------------- objects

    /// <summary>Makes staged bytes the new live version of an object (a new generation).</summary>
    public StoredObject Commit(ObjectDraft draft, StagingBlob staged, Preconditions pre, string via)
    {
        ValidateObjectName(draft.Name);
        var crc = staged.Crc32cBase64;
        var md5 = staged.Md5Base64;
        if (draft.ExpectedCrc32c is { } expectedCrc && expectedCrc != crc)
        {
            throw GcsException.BadRequest($"Provided CRC32C \"{expectedCrc}\" doesn't match calculated CRC32C \"{crc}\".");
        }
        if (draft.ExpectedMd5 is { } expectedMd5 && expectedMd5 != md5)
        {
            throw GcsException.BadRequest($"Provided MD5 hash \"{expectedMd5}\" doesn't match calculated MD5 hash \"{md5}\".");
        }
        lock (_gate)
        {
            // Fail fast, before moving bytes around.
            var existing = _buckets.TryGetValue(draft.Bucket, out var b) && b.Objects.TryGetValue(draft.Name, out var o) ? o : null;
            pre.CheckWrite(existing);
        }

        string? blobFile = null;
        if (DataPath is not null)
        {
            Directory.CreateDirectory(ObjectDir(draft.Bucket));
            blobFile = $"{Key(draft.Name)}.{Guid.NewGuid():N}.bin";
        }
        var blob = staged.Detach(blobFile is null ? null : Path.Combine(ObjectDir(draft.Bucket), blobFile));

        StoredObject created;
        StoredObject? replaced;
        lock (_gate)
        {
            try
            {
                var bucket = GetOrCreateBucket(draft.Bucket);
                replaced = bucket.Objects.GetValueOrDefault(draft.Name);
                pre.CheckWrite(replaced);
                var now = Now();
                created = new StoredObject
                {
                    Bucket = draft.Bucket,
                    Name = draft.Name,
                    Generation = NextGeneration(),
                    Metageneration = 1,
                    Size = staged.Length,
                    ContentType = string.IsNullOrEmpty(draft.ContentType) ? "application/octet-stream" : draft.ContentType,
                    Md5Hash = md5,
                    Crc32c = crc,
                    TimeCreated = now,
                    Updated = now,
                    CacheControl = draft.CacheControl,
                    ContentDisposition = draft.ContentDisposition,
                    ContentEncoding = draft.ContentEncoding,
                    ContentLanguage = draft.ContentLanguage,
                    CustomTime = draft.CustomTime,
                    Metadata = draft.Metadata is { Count: > 0 } ? draft.Metadata : null,
                    BlobFile = blobFile,
                    Blob = blob,
                };
                WriteObjectSidecar(created);
                bucket.Objects[draft.Name] = created;
            }
            catch
            {
                blob.Delete();
                throw;
            }
        }
        replaced?.Blob.Delete();
        _log.LogInformation(
            "Stored gs://{Bucket}/{Name} generation={Generation} size={Size} contentType={ContentType} via {Via}{Replaced}",
            created.Bucket, created.Name, created.Generation, created.Size, created.ContentType, via,
            replaced is null ? "" : $" (replaced generation {replaced.Generation})");
        return created;
    }

    public StoredObject Get(string bucket, string name, long? generation)
    {
        lock (_gate)
        {
            return Find(bucket, name, generation);
        }
    }

    /// <summary>Peeks at the live version without throwing (null when absent).</summary>
    public StoredObject? TryGet(string bucket, string name)
    {
        lock (_gate)
        {
            return _buckets.TryGetValue(bucket, out var b) ? b.Objects.GetValueOrDefault(name) : null;
        }
    }

    /// <summary>Opens the bytes of a version; the stream stays valid even if the object is replaced meanwhile.</summary>
    public (StoredObject Object, Stream Content) Open(string bucket, string name, long? generation, Preconditions pre)
    {
        lock (_gate)
        {
            var obj = Find(bucket, name, generation);
            pre.CheckRead(obj);
            return (obj, obj.Blob.OpenRead());
        }
    }

    /// <summary>Changes an object's metadata (patch/update): metageneration + 1.</summary>
    public StoredObject Modify(string bucket, string name, long? generation, Preconditions pre,
        Func<StoredObject, StoredObject> change, string verb)
    {
        StoredObject updated;
        lock (_gate)
        {
            var current = Find(bucket, name, generation);
            pre.CheckWrite(current);
            updated = change(current) with
            {
                Bucket = current.Bucket,
                Name = current.Name,
                Generation = current.Generation,
                Metageneration = current.Metageneration + 1,
                Updated = Now(),
                Size = current.Size,
                Md5Hash = current.Md5Hash,
                Crc32c = current.Crc32c,
                TimeCreated = current.TimeCreated,
                BlobFile = current.BlobFile,
                Blob = current.Blob,
            };
            WriteObjectSidecar(updated);
            _buckets[bucket].Objects[name] = updated;
        }
        _log.LogInformation("{Verb} gs://{Bucket}/{Name} generation={Generation} metageneration={Metageneration}",
            verb, bucket, name, updated.Generation, updated.Metageneration);
        return updated;
    }

    public void Delete(string bucket, string name, long? generation, Preconditions pre)
    {
        StoredObject current;
        lock (_gate)
        {
            current = Find(bucket, name, generation);
            pre.CheckWrite(current);
            _buckets[bucket].Objects.Remove(name);
            if (DataPath is not null)
            {
                File.Delete(SidecarPath(bucket, name));
            }
        }
        current.Blob.Delete();
        _log.LogInformation("Deleted gs://{Bucket}/{Name} generation={Generation}", bucket, name, current.Generation);
    }

    private StoredObject Find(string bucket, string name, long? generation)
    {
        if (!_buckets.TryGetValue(bucket, out var state))
        {
            throw GcsException.NoSuchBucket(bucket);
        }
        if (!state.Objects.TryGetValue(name, out var obj) || (generation is { } g && g != obj.Generation))
        {
            throw GcsException.NoSuchObject(bucket, name);
        }
        return obj;
    }

    public ObjectPage List(string bucket, ListRequest request)
    {
        var prefix = request.Prefix ?? "";
        var delimiter = string.IsNullOrEmpty(request.Delimiter) ? null : request.Delimiter;
        var (tokenIsPrefix, tokenKey) = PageToken.Decode(request.PageToken);
        var max = Math.Clamp(request.MaxResults, 1, 1000);
        var items = new List<StoredObject>();
        var prefixes = new List<string>();
        string? next = null;
        var count = 0;
        string? lastEmitted = null;
        var lastWasPrefix = false;

        lock (_gate)
        {
            if (!_buckets.TryGetValue(bucket, out var state))
            {
                throw GcsException.NoSuchBucket(bucket);
            }
            foreach (var (name, obj) in state.Objects)
            {
                if (!name.StartsWith(prefix, StringComparison.Ordinal)
                    || (request.StartOffset is { } so && string.CompareOrdinal(name, so) < 0)
                    || (request.EndOffset is { } eo && string.CompareOrdinal(name, eo) >= 0))
                {
                    continue;
                }
                if (tokenKey is not null
                    && (string.CompareOrdinal(name, tokenKey) <= 0
                        || (tokenIsPrefix && name.StartsWith(tokenKey, StringComparison.Ordinal))))
                {
                    continue;
                }

                string? commonPrefix = null;
                if (delimiter is not null)
                {
                    var at = name.IndexOf(delimiter, prefix.Length, StringComparison.Ordinal);
                    if (at >= 0)
                    {
                        commonPrefix = name[..(at + delimiter.Length)];
                    }
                }

                if (commonPrefix is not null && lastWasPrefix && commonPrefix == lastEmitted)
                {
                    // Another object under a prefix already reported; only a trailing-delimiter object adds an item.
                    if (request.IncludeTrailingDelimiter && name == commonPrefix)
                    {
                        items.Add(obj);
                    }
                    continue;
                }
                if (count == max)
                {
                    next = PageToken.Encode(lastWasPrefix, lastEmitted!);
                    break;
                }
                count++;
                if (commonPrefix is not null)
                {
                    prefixes.Add(commonPrefix);
                    if (request.IncludeTrailingDelimiter && name == commonPrefix)
                    {
                        items.Add(obj);
                    }
                    lastEmitted = commonPrefix;
                    lastWasPrefix = true;
                }
                else
                {
                    items.Add(obj);
                    lastEmitted = name;
                    lastWasPrefix = false;
                }
            }
        }
        return new ObjectPage(items, prefixes, next);
    }

    // ---------------------------------------------------------------- persistence

    private string SidecarPath(string bucket, string name) => Path.Combine(ObjectDir(bucket), Key(name) + ".json");

    private void WriteObjectSidecar(StoredObject obj)
    {
        if (DataPath is not null)
        {
            AtomicFile.Write(SidecarPath(obj.Bucket, obj.Name), JsonSerializer.SerializeToUtf8Bytes(obj, SidecarJson), TempDir);
        }
    }

    private void Load()
    {
        var root = DataPath!;
        Directory.CreateDirectory(Path.Combine(root, "buckets"));
        if (Directory.Exists(TempDir))
        {
            Directory.Delete(TempDir, recursive: true); // unfinished uploads and half-written sidecars
        }
        Directory.CreateDirectory(TempDir);

        var objects = 0;
        foreach (var bucketDir in Directory.EnumerateDirectories(Path.Combine(root, "buckets")))
        {
            var name = Path.GetFileName(bucketDir);
            var bucketFile = Path.Combine(bucketDir, "bucket.json");
            var record = File.Exists(bucketFile)
                ? JsonSerializer.Deserialize<BucketRecord>(File.ReadAllBytes(bucketFile), SidecarJson)!
                : new BucketRecord { Name = name, TimeCreated = Now(), Updated = Now() };
            var state = new BucketState(record);
            _buckets[record.Name] = state;

            var objectDir = ObjectDir(name);
            if (!Directory.Exists(objectDir))
            {
                continue;
            }
            var referenced = new HashSet<string>(StringComparer.Ordinal);
            foreach (var sidecar in Directory.EnumerateFiles(objectDir, "*.json"))
            {
                StoredObject? obj;
                try
                {
                    obj = JsonSerializer.Deserialize<StoredObject>(File.ReadAllBytes(sidecar), SidecarJson);
                }
                catch (JsonException ex)
                {
                    _log.LogWarning("Skipping unreadable sidecar {Sidecar}: {Error}", sidecar, ex.Message);
                    continue;
                }
                if (obj?.BlobFile is null || !File.Exists(Path.Combine(objectDir, obj.BlobFile)))
                {
                    _log.LogWarning("Skipping sidecar {Sidecar}: its content file is missing", sidecar);
                    continue;
                }
                state.Objects[obj.Name] = obj with { Blob = new FileBlob(Path.Combine(objectDir, obj.BlobFile)) };
                referenced.Add(obj.BlobFile);
                _lastGeneration = Math.Max(_lastGeneration, obj.Generation);
                objects++;
            }
            foreach (var blob in Directory.EnumerateFiles(objectDir, "*.bin"))
            {
                if (!referenced.Contains(Path.GetFileName(blob)))
                {
                    File.Delete(blob); // left by a crash between rename and sidecar, or an overwrite's old version
                }
            }
        }
        _log.LogInformation("Loaded {Buckets} bucket(s) and {Objects} object(s) from {DataPath}", _buckets.Count, objects, root);
    }
}

internal static class AtomicFile
{
    /// <summary>Writes a whole file so that readers (and a crash) see either the old or the new content.</summary>
    public static void Write(string path, byte[] content, string tempDir)
    {
        var temp = Path.Combine(tempDir, Guid.NewGuid().ToString("N") + ".tmp");
        using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }
}

internal static class PageToken
{
    public static string Encode(bool isPrefix, string key) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes((isPrefix ? "p:" : "n:") + key));

    public static (bool IsPrefix, string? Key) Decode(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return (false, null);
        }
        try
        {
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(token));
            if (text.Length >= 2 && text[1] == ':' && text[0] is 'p' or 'n')
            {
                return (text[0] == 'p', text[2..]);
            }
        }
        catch (FormatException)
        {
        }
        throw GcsException.BadRequest("Invalid page token.");
    }
}
