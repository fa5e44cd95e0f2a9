using System.Security.Cryptography;

namespace MindJourney.StorageEmulator;

// Object versions: commit, read, modify and delete.
internal sealed partial class ObjectStore
{
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

        // The version and its sidecar are made, and the sidecar flushed to disk, outside the lock: the lock only
        // checks the preconditions again and publishes, so concurrent uploads no longer queue behind each other's
        // flush (a burst of small objects was bound by one flush at a time).
        long generation;
        lock (_gate)
        {
            generation = NextGeneration();
        }

        var now = Now();
        var created = new StoredObject
        {
            Bucket = draft.Bucket,
            Name = draft.Name,
            Generation = generation,
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
        string? sidecar = null;
        StoredObject? replaced;
        try
        {
            sidecar = StageObjectSidecar(created);
            lock (_gate)
            {
                var bucket = GetOrCreateBucket(draft.Bucket);
                replaced = bucket.Objects.GetValueOrDefault(draft.Name);
                pre.CheckWrite(replaced);
                if (replaced is not null && replaced.Generation > created.Generation)
                {
                    // A write of the same name that began later published first: this one replaces it, so it takes
                    // the newer generation (an object's generations only grow). Rare: the sidecar is written again.
                    AtomicFile.Discard(sidecar);
                    created = created with { Generation = NextGeneration() };
                    sidecar = StageObjectSidecar(created);
                }

                PublishObjectSidecar(created, sidecar);
                sidecar = null;
                bucket.Objects[draft.Name] = created;
            }
        }
        catch
        {
            AtomicFile.Discard(sidecar);
            blob.Delete();
            throw;
        }

        replaced?.Blob.Delete();
        _log.LogDebug(
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

        _log.LogDebug("{Verb} gs://{Bucket}/{Name} generation={Generation} metageneration={Metageneration}",
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
        _log.LogDebug("Deleted gs://{Bucket}/{Name} generation={Generation}", bucket, name, current.Generation);
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
}
