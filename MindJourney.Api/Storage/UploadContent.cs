using System.Security.Cryptography;
using System.Text;

namespace MindJourney.Api.Storage;

/// <summary>The bytes of one upload while a request handles it: a text in memory, or a file spooled to a temporary
/// file as it arrives (a 200 MiB video never sits in memory). Readable as often as needed; the temporary file goes
/// away with this object.</summary>
public sealed class UploadContent : IAsyncDisposable
{
    private const int CopyBufferBytes = 81_920;
    private readonly byte[]? _bytes;
    private readonly FileStream? _spool;

    private UploadContent(
        byte[]? bytes, FileStream? spool, long length, string md5Hash, string contentType, string fileName, string originalName)
    {
        _bytes = bytes;
        _spool = spool;
        Length = length;
        Md5Hash = md5Hash;
        ContentType = contentType;
        FileName = fileName;
        OriginalName = originalName;
    }

    public long Length { get; }

    /// <summary>Base64 MD5, the form storage reports.</summary>
    public string Md5Hash { get; }

    public string ContentType { get; }

    /// <summary>Sanitised name used in the object name.</summary>
    public string FileName { get; }

    /// <summary>The client's name, for the <c>originalName</c> metadata.</summary>
    public string OriginalName { get; }

    /// <summary>A text answer as <c>text-response.txt</c> (UTF-8, text/plain).</summary>
    public static UploadContent FromText(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return new UploadContent(bytes, null, bytes.Length, Convert.ToBase64String(MD5.HashData(bytes)),
            ObjectNames.TextContentType, ObjectNames.TextFileName, ObjectNames.TextFileName);
    }

    /// <summary>Bytes spooled between two reports to a <see cref="SpoolTap"/> (each report flushes the file): what the
    /// upload to storage may trail the client by, and have left to send when the file ends.</summary>
    private const long TapStepBytes = SpoolTap.ChunkGranule;

    /// <summary>Copies <paramref name="source"/> to a temporary file, hashing as it goes; null when it is longer
    /// than <paramref name="maxBytes"/> (reading stops there). With <paramref name="tap"/>, a reader may follow the
    /// file as it grows.</summary>
    public static async Task<UploadContent?> SpoolAsync(Stream source, long maxBytes, string contentType, string? clientFileName,
        string spoolFolder, CancellationToken cancellationToken, SpoolTap? tap = null)
    {
        var path = Path.Combine(spoolFolder, $"mindjourney-upload-{Guid.NewGuid():N}.tmp");
        FileStream spool;
        try
        {
            spool = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete,
                CopyBufferBytes, FileOptions.Asynchronous | FileOptions.DeleteOnClose);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UploadSpoolException(IsDiskFull(ex), ex);
        }

        try
        {
            tap?.Opened(path);
            using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            var buffer = new byte[CopyBufferBytes];
            long length = 0, reported = 0;
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
            {
                length += read;
                if (length > maxBytes)
                {
                    await spool.DisposeAsync();
                    return null;
                }

                md5.AppendData(buffer, 0, read);
                await WriteSpoolAsync(spool, buffer.AsMemory(0, read), cancellationToken);
                if (tap is not null && length - reported >= TapStepBytes)
                {
                    await WriteSpoolAsync(spool, ReadOnlyMemory<byte>.Empty, cancellationToken);
                    tap.Advanced(reported = length, complete: false);
                }
            }

            await WriteSpoolAsync(spool, ReadOnlyMemory<byte>.Empty, cancellationToken);
            tap?.Advanced(length, complete: true);
            return new UploadContent(null, spool, length, Convert.ToBase64String(md5.GetHashAndReset()), contentType,
                ObjectNames.SanitiseFileName(clientFileName), ObjectNames.OriginalName(clientFileName));
        }
        catch
        {
            try
            {
                await spool.DisposeAsync();
            }
            catch (IOException)
            {
                // A full disk fails the final flush too; the first error is the one to report.
            }

            throw;
        }
    }

    /// <summary>A full disk is our fault, not the client's: keep it apart from the request body's IOExceptions
    /// (a client that stopped sending), which the caller answers with a 4xx.</summary>
    private static async Task WriteSpoolAsync(FileStream spool, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        try
        {
            if (data.IsEmpty)
            {
                await spool.FlushAsync(cancellationToken);
            }
            else
            {
                await spool.WriteAsync(data, cancellationToken);
            }
        }
        catch (IOException ex)
        {
            throw new UploadSpoolException(IsDiskFull(ex), ex);
        }
    }

    /// <summary>ENOSPC or EDQUOT (the runtime reports the errno as the HResult on Unix), or the Windows codes.</summary>
    private static bool IsDiskFull(Exception ex) => ex.HResult is 28 or 122 or unchecked((int)0x80070070) or unchecked((int)0x80070027);

    /// <summary>A new stream over the whole content, from the start; the caller disposes it.</summary>
    public Stream OpenRead() => _bytes is not null
        ? new MemoryStream(_bytes, writable: false)
        : new FileStream(_spool!.Name, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete,
            CopyBufferBytes, FileOptions.Asynchronous | FileOptions.SequentialScan);

    public ValueTask DisposeAsync() => _spool?.DisposeAsync() ?? ValueTask.CompletedTask;
}
