using System.Buffers;

namespace MindJourney.Api.Export;

/// <summary>
/// What <see cref="System.IO.Compression.ZipArchive"/> writes to. Its entries' data arrive asynchronously, but closing
/// an entry (the deflate tail, the data descriptor) still writes synchronously, which the response body refuses:
/// those few bytes are kept here and go out, in order, ahead of the next asynchronous write or flush. Only an entry's
/// tail and the archive's headers ever wait here (bytes to kilobytes), never an entry's data.
/// </summary>
public sealed class ZipBodyStream(Stream body) : Stream
{
    private readonly ArrayBufferWriter<byte> _held = new(4096);

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => _held.Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer) => _held.Write(buffer);

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await SendHeldAsync(cancellationToken);
        await body.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        await SendHeldAsync(cancellationToken);
        await body.FlushAsync(cancellationToken);
    }

    /// <summary>Nothing to do synchronously: what is held goes out with the next asynchronous write or flush.</summary>
    public override void Flush()
    {
    }

    private async ValueTask SendHeldAsync(CancellationToken cancellationToken)
    {
        if (_held.WrittenCount > 0)
        {
            await body.WriteAsync(_held.WrittenMemory, cancellationToken);
            _held.ResetWrittenCount();
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
