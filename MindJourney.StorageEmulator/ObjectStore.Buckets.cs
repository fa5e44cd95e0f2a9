using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MindJourney.StorageEmulator;

// Buckets: create, read, modify and delete, with their metageneration preconditions.
internal sealed partial class ObjectStore
{
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
}
