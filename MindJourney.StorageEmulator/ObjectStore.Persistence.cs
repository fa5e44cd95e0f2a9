using System.Text.Json;

namespace MindJourney.StorageEmulator;

// The data folder: a JSON sidecar per object and bucket, and the index rebuilt from them at start.
internal sealed partial class ObjectStore
{
    private string SidecarPath(string bucket, string name) => Path.Combine(ObjectDir(bucket), Key(name) + ".json");

    /// <summary>The object's sidecar, flushed under a temporary name (null without a data folder).</summary>
    private string? StageObjectSidecar(StoredObject obj) =>
        DataPath is null ? null : AtomicFile.Stage(JsonSerializer.SerializeToUtf8Bytes(obj, SidecarJson), TempDir);

    private void PublishObjectSidecar(StoredObject obj, string? staged)
    {
        if (staged is not null)
        {
            AtomicFile.Publish(staged, SidecarPath(obj.Bucket, obj.Name));
        }
    }

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
