namespace MindJourney.Api.Storage;

/// <summary>
/// Lets a reader follow an upload's spool file while it is written, so the upload to storage runs beside the
/// client's and ends moments after it, instead of starting after it. The reader sees the end of the file only once the
/// request has accepted the whole upload (<see cref="Finish"/>); until then storage holds an unfinished upload that
/// is no object, and <see cref="Abort"/> (a refusal, a broken body) leaves it so.
/// </summary>
public sealed class SpoolTap(long firstChunkBytes = 0)
{
    /// <summary>The granularity of a resumable upload's chunks (all but the last), as the protocol asks.</summary>
    public const int ChunkGranule = 256 * 1024;

    /// <summary>Room left for what may follow the file in its request: the end boundary (at most 78 bytes) and a
    /// few small fields.</summary>
    private const long BodyTailAllowance = 8 * 1024;

    private readonly TaskCompletionSource<bool> _end = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _advanced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _written;
    private int _complete;

    /// <summary>The bytes the file most likely has at least (a multiple of <see cref="ChunkGranule"/>), sent to storage as
    /// one streamed chunk while they arrive; 0 when unknown or too small to matter.</summary>
    public long FirstChunkBytes { get; } = firstChunkBytes;

    /// <summary>The first chunk for a file whose request has <paramref name="bodyBytesLeft"/> bytes left as it begins.</summary>
    public static long FirstChunkFor(long? bodyBytesLeft) =>
        bodyBytesLeft is { } left && left > BodyTailAllowance ? (left - BodyTailAllowance) / ChunkGranule * ChunkGranule : 0;

    /// <summary>Bytes in the spool file so far; its length once <see cref="Decided"/> is true.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Completes when the request has decided: the reader may see the end (true) or must give up (false).</summary>
    public Task<bool> Decided => _end.Task;

    /// <summary>The whole upload is spooled and accepted: the reader may read to its end.</summary>
    public void Finish() => _end.TrySetResult(true);

    /// <summary>The upload is refused or broken: the reader fails, storage never sees its end.</summary>
    public void Abort()
    {
        _end.TrySetResult(false);
        _opened.TrySetCanceled();
        Pulse();
    }

    /// <summary>A new stream following the spool from its start; the caller disposes it.</summary>
    public Stream OpenReader() => new Reader(this);

    /// <summary>The spool file from <paramref name="offset"/>, once it is complete and accepted; the caller disposes it.</summary>
    public async Task<Stream> OpenCompleteAsync(long offset)
    {
        if (!await Decided)
        {
            throw new SpoolAbandonedException();
        }

        var file = new FileStream(await _opened.Task, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 81_920,
            FileOptions.Asynchronous | FileOptions.SequentialScan);
        file.Seek(offset, SeekOrigin.Begin);
        return file;
    }

    internal void Opened(string path) => _opened.TrySetResult(path);

    /// <summary><paramref name="written"/> bytes are in the spool file (flushed).</summary>
    internal void Advanced(long written, bool complete)
    {
        Interlocked.Exchange(ref _written, written);
        if (complete)
        {
            Interlocked.Exchange(ref _complete, 1);
        }

        Pulse();
    }

    private void Pulse() =>
        Interlocked.Exchange(ref _advanced, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Follows a <see cref="SpoolTap"/>'s file (<see cref="OpenReader"/>).</summary>
    internal sealed class Reader(SpoolTap tap) : Stream
    {
        private FileStream? _file;

        public SpoolTap Tap => tap;

        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false; // the length is unknown while the client sends

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (buffer.IsEmpty)
            {
                return 0;
            }

            if (_file is null)
            {
                string path;
                try
                {
                    path = await tap._opened.Task.WaitAsync(cancellationToken);
                }
                catch (TaskCanceledException) when (tap._opened.Task.IsCanceled)
                {
                    throw new SpoolAbandonedException();
                }

                _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1,
                    FileOptions.Asynchronous | FileOptions.SequentialScan);
            }

            while (true)
            {
                var advanced = Volatile.Read(ref tap._advanced).Task; // taken before the checks: no pulse is missed
                if (tap._end.Task is { IsCompleted: true, Result: false })
                {
                    throw new SpoolAbandonedException();
                }

                var available = Interlocked.Read(ref tap._written) - _position;
                if (available > 0)
                {
                    var read = await _file.ReadAsync(buffer[..(int)Math.Min(buffer.Length, available)], cancellationToken);
                    _position += read;
                    return read;
                }

                if (Volatile.Read(ref tap._complete) == 1 && tap._end.Task.IsCompleted)
                {
                    return 0; // finished and accepted
                }

                await Task.WhenAny(advanced, tap._end.Task).WaitAsync(cancellationToken);
            }
        }

        public override int Read(byte[] buffer, int offset, int count) =>
            ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _file?.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}

/// <summary>The upload a reader followed was refused or broken: storage must not finish it.</summary>
public sealed class SpoolAbandonedException() : Exception("The upload was abandoned before its end.");
