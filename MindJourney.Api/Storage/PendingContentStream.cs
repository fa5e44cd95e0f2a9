using System.Data;
using Npgsql;

namespace MindJourney.Api.Storage;

/// <summary>A pending delivery's bytes gone from the database: the delivery completed (the object is in storage
/// from <see cref="Offset"/> on as well) while they were being read.</summary>
internal sealed class PendingContentGoneException(long offset)
    : Exception($"The pending content is no longer in the database (after {offset} bytes).")
{
    public long Offset { get; } = offset;
}

/// <summary>
/// A delivery's chunks read in order as one stream, each slice by its own short query on a connection held only
/// for that query: a client (or storage) that reads slowly holds memory for one slice, never a connection or a
/// snapshot. Throws <see cref="PendingContentGoneException"/> when the delivery completes meanwhile.
/// </summary>
internal sealed class PendingContentStream(NpgsqlDataSource dataSource, Guid responseId, long length) : Stream
{
    // A delivery of a text answer has no chunks: its content is the answer's own text, read from its row.
    private const string ChunkSql = """
        SELECT data, NULL::text FROM storage_delivery_chunks WHERE response_id = $1 AND sequence = $2
        UNION ALL
        SELECT NULL, r.response_data::text
        FROM storage_deliveries d JOIN experiment_responses r ON r.id = d.response_id
        WHERE d.response_id = $1 AND d.from_answer_text
        """;

    private byte[]? _slice;
    private byte[]? _text;
    private int _sliceLength;
    private int _sliceOffset;
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => length;

    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_position >= length || buffer.Length == 0)
        {
            return 0;
        }

        if (_text is null && _sliceOffset == _sliceLength)
        {
            await LoadSliceAsync(cancellationToken);
        }

        if (_text is not null)
        {
            var rest = Math.Min(buffer.Length, (int)(length - _position));
            _text.AsMemory((int)_position, rest).CopyTo(buffer);
            _position += rest;
            return rest;
        }

        var count = Math.Min(buffer.Length, _sliceLength - _sliceOffset);
        _slice.AsMemory(_sliceOffset, count).CopyTo(buffer);
        _sliceOffset += count;
        _position += count;
        return count;
    }

    private async Task LoadSliceAsync(CancellationToken cancellationToken)
    {
        var expected = (int)Math.Min(DeliveryOutbox.ChunkBytes, length - _position);
        _slice ??= System.Buffers.ArrayPool<byte>.Shared.Rent((int)Math.Min(DeliveryOutbox.ChunkBytes, length));
        await using (var command = dataSource.CreateCommand(ChunkSql))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = responseId });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = (int)(_position / DeliveryOutbox.ChunkBytes) });
            await using var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                throw new PendingContentGoneException(_position);
            }

            if (await reader.IsDBNullAsync(0, cancellationToken))
            {
                // The whole text at once (at most MindJourney:Storage:MaxTextBytes), as the answer's 201 measured it.
                var json = await reader.GetFieldValueAsync<string>(1, cancellationToken);
                var text = System.Text.Encoding.UTF8.GetBytes(Responses.ResponseIntake.TextOf(json) ?? "");
                if (text.Length != length)
                {
                    throw new InvalidDataException($"The text of response {responseId} has an unexpected size.");
                }

                _text = text;
                return;
            }

            await using var data = await reader.GetStreamAsync(0, cancellationToken);
            var read = await data.ReadAtLeastAsync(_slice.AsMemory(0, expected), expected, throwOnEndOfStream: false, cancellationToken);
            if (read != expected || data.Length != expected)
            {
                throw new InvalidDataException(
                    $"Chunk {_position / DeliveryOutbox.ChunkBytes} of response {responseId} has an unexpected size.");
            }
        }

        _sliceLength = expected;
        _sliceOffset = 0;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && _slice is { } slice)
        {
            _slice = null;
            System.Buffers.ArrayPool<byte>.Shared.Return(slice);
        }

        base.Dispose(disposing);
    }
}
