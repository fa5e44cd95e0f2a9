using System.Buffers;
using System.Security.Cryptography;

namespace MindJourney.StorageEmulator;

/// <summary>Where the bytes of one stored object version live.</summary>
internal abstract class BlobRef
{
    public abstract Stream OpenRead();
    public abstract void Delete();
}

internal sealed class MemoryBlob(byte[] buffer, int length) : BlobRef
{
    public override Stream OpenRead() => new MemoryStream(buffer, 0, length, writable: false);
    public override void Delete() { }
}

internal sealed class FileBlob(string path) : BlobRef
{
    public string Path { get; } = path;

    public override Stream OpenRead() => new FileStream(Path, FileMode.Open, FileAccess.Read,
        FileShare.Read | FileShare.Delete, bufferSize: 1, FileOptions.Asynchronous | FileOptions.SequentialScan);

    public override void Delete()
    {
        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
            // Still open on a platform that forbids deleting open files: the start-up sweep removes it later.
        }
    }
}

/// <summary>
/// Bytes being received for a future object (a whole simple upload, or a resumable session), hashed as they arrive.
/// Disk mode writes them to a temporary file that is renamed into place at commit; memory mode keeps a buffer.
/// </summary>
internal sealed class StagingBlob : IDisposable
{
    private const int BufferSize = 128 * 1024;
    private readonly Stream _stream;
    private readonly Crc32c _crc = new();
    private readonly IncrementalHash _md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
    private bool _detached;

    private StagingBlob(Stream stream, string? tempPath)
    {
        _stream = stream;
        TempPath = tempPath;
    }

    public static StagingBlob InMemory() => new(new MemoryStream(), null);

    public static StagingBlob OnDisk(string tempPath) => new(
        new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize, FileOptions.Asynchronous),
        tempPath);

    public string? TempPath { get; }

    public long Length { get; private set; }

    public string Md5Base64 => Convert.ToBase64String(_md5.GetCurrentHash());

    public string Crc32cBase64 => _crc.ToBase64();

    /// <summary>Appends everything <paramref name="source"/> holds, after skipping its first <paramref name="skip"/> bytes.</summary>
    public async Task<long> AppendAsync(Stream source, long skip, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        long appended = 0;
        try
        {
            while (true)
            {
                var read = await source.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken);
                if (read == 0)
                {
                    return appended;
                }

                var offset = 0;
                if (skip > 0)
                {
                    var skipped = (int)Math.Min(skip, read);
                    skip -= skipped;
                    offset = skipped;
                }

                if (offset == read)
                {
                    continue;
                }

                var slice = buffer.AsMemory(offset, read - offset);
                await _stream.WriteAsync(slice, cancellationToken);
                _crc.Append(slice.Span);
                _md5.AppendData(slice.Span);
                Length += slice.Length;
                appended += slice.Length;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Makes the bytes durable (disk) and hands them over; the staging no longer owns them.</summary>
    public BlobRef Detach(string? finalPath)
    {
        _detached = true;
        if (_stream is MemoryStream memory)
        {
            return new MemoryBlob(memory.GetBuffer(), checked((int)memory.Length));
        }

        var file = (FileStream)_stream;
        file.Flush(flushToDisk: true);
        file.Dispose();
        File.Move(TempPath!, finalPath!, overwrite: false);
        return new FileBlob(finalPath!);
    }

    public void Dispose()
    {
        _md5.Dispose();
        if (_detached)
        {
            return;
        }

        _stream.Dispose();
        if (TempPath is not null)
        {
            try
            {
                File.Delete(TempPath);
            }
            catch (IOException)
            {
            }
        }
    }
}
