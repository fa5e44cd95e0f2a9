using System.Security.Cryptography;

namespace MindJourney.Api.Export;

/// <summary>A write-only pass-through that counts what goes by and, when asked, computes its MD5 and SHA-256 on
/// the way (so a zip's manifest needs no second read). Asynchronous writes stay asynchronous: the response body
/// refuses synchronous I/O.</summary>
public sealed class ExportStream(Stream inner, bool hash) : Stream
{
    private readonly IncrementalHash? _md5 = hash ? IncrementalHash.CreateHash(HashAlgorithmName.MD5) : null;
    private readonly IncrementalHash? _sha256 = hash ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;

    public long Written { get; private set; }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Base64, as storage and <c>experiment_responses.file_md5</c> give it.</summary>
    public string Md5Base64() => Convert.ToBase64String(_md5!.GetHashAndReset());

    /// <summary>Lower-case hex, as <c>sha256sum</c> prints it.</summary>
    public string Sha256Hex() => Convert.ToHexStringLower(_sha256!.GetHashAndReset());

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _md5?.AppendData(buffer.Span);
        _sha256?.AppendData(buffer.Span);
        await inner.WriteAsync(buffer, cancellationToken);
        Written += buffer.Length;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        _md5?.AppendData(buffer, offset, count);
        _sha256?.AppendData(buffer, offset, count);
        inner.Write(buffer, offset, count);
        Written += count;
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _md5?.Dispose();
            _sha256?.Dispose();
        }

        base.Dispose(disposing);
    }
}
