using System.Data;
using Npgsql;
using NpgsqlTypes;

namespace MindJourney.Api.Storage;

/// <summary>
/// The durable outbox of uploads not yet in storage (<c>storage_deliveries</c> + <c>storage_delivery_chunks</c>).
/// Several API replicas share it: a claim takes due rows with <c>FOR UPDATE SKIP LOCKED</c> and leases them by
/// moving <c>next_attempt_at</c> past the attempt's deadline, so each delivery has one runner at a time, and a
/// runner that dies only delays it until the lease ends.
/// </summary>
public sealed class DeliveryOutbox(NpgsqlDataSource dataSource, BulkDataSource bulk, PendingCountCache pendingCount)
{
    /// <summary>Slice size of stored content: bounded memory on both sides, few rows.</summary>
    public const int ChunkBytes = 1024 * 1024;

    private const string ClaimSql = """
        UPDATE storage_deliveries d
        SET attempts = d.attempts + 1,
            next_attempt_at = now() + make_interval(secs => $2 + d.size_bytes / $3::double precision)
        FROM (SELECT response_id FROM storage_deliveries
              WHERE next_attempt_at <= now() AND from_answer_text = $4
              ORDER BY next_attempt_at
              LIMIT $1
              FOR UPDATE SKIP LOCKED) due,
             experiment_responses r
             JOIN experiment_sessions s ON s.id = r.session_id
        WHERE d.response_id = due.response_id AND r.id = d.response_id
        RETURNING d.response_id, d.object_name, d.content_type, d.size_bytes, d.md5_hash, d.original_name,
                  d.uploaded_at, d.attempts, r.session_id, r.user_id, s.experiment_id, r.visitor_number, r.response_type,
                  CASE WHEN d.from_answer_text THEN r.response_data::text END
        """;

    // Deleting the row (its chunks go with it) and marking the response stored is one statement: there is no
    // moment when the upload is neither pending nor stored. The response is locked first, before its delivery, as a
    // withdrawal locks it before the cascade takes the delivery (docs/RELIABILITY.md, "Lock order"): the other way
    // round, each would wait for the other and PostgreSQL would abort one.
    // Answers whether the response is still there: a person's withdrawal may have erased it (its delivery with it)
    // while the object travelled, and then the object must go too.
    private const string CompleteSql = """
        WITH locked AS (SELECT id FROM experiment_responses WHERE id = $1 FOR NO KEY UPDATE),
        done AS (DELETE FROM storage_deliveries d USING locked l WHERE d.response_id = l.id RETURNING d.response_id),
        marked AS (
            UPDATE experiment_responses SET storage_status = 'stored', object_visitor_number = $2
            WHERE id IN (SELECT response_id FROM done)
        )
        SELECT EXISTS (SELECT 1 FROM locked)
        """;

    // The same for a round of answers' texts at once: one statement, one commit. The responses are locked first, in
    // id order (a withdrawal locks its person's in the same order), then their deliveries go. A response a withdrawal
    // erased meanwhile is not locked (the lock waits for the withdrawal's commit, then skips the row): its id is
    // answered, and its object must go too.
    private const string CompleteManySql = """
        WITH batch AS (SELECT * FROM unnest($1::uuid[], $2::integer[]) AS b(response_id, object_visitor_number)),
        locked AS (SELECT id FROM experiment_responses WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE),
        done AS (
            DELETE FROM storage_deliveries d USING locked l WHERE d.response_id = l.id RETURNING d.response_id
        ),
        marked AS (
            UPDATE experiment_responses r SET storage_status = 'stored', object_visitor_number = b.object_visitor_number
            FROM batch b
            WHERE r.id = b.response_id AND r.id IN (SELECT response_id FROM done)
        )
        SELECT b.response_id FROM batch b WHERE b.response_id NOT IN (SELECT id FROM locked)
        """;

    /// <summary>Uploads accepted but not yet in storage (the admin audit's <c>pendingUploads</c>); every count also
    /// refreshes the metrics gauges' values and the pending ceiling's total.</summary>
    public async Task<long> CountPendingAsync(CancellationToken cancellationToken = default) =>
        (await CountPendingTotalsAsync(cancellationToken)).Count;

    /// <summary>How many uploads are pending (objects not yet in storage, answers' texts included) and how many bytes
    /// the outbox holds for them (files' chunks only: an answer's text is its own row, already under its session's
    /// quota, and holds no copy of its own).</summary>
    public async Task<(long Count, long ChunkBytes)> CountPendingTotalsAsync(CancellationToken cancellationToken = default)
    {
        var localBefore = pendingCount.LocalBytes;
        await using var command = dataSource.CreateCommand("""
            SELECT count(*), coalesce(sum(size_bytes) FILTER (WHERE NOT from_answer_text), 0)::bigint FROM storage_deliveries
            """);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var (count, bytes) = (reader.GetInt64(0), reader.GetInt64(1));
        pendingCount.Record(count, bytes, localBefore);
        return (count, bytes);
    }

    /// <summary>Writes <paramref name="content"/> as the delivery's chunks, in the caller's transaction (binary COPY:
    /// streamed, one slice in memory at a time).</summary>
    internal static async Task WriteContentAsync(
        NpgsqlConnection connection, Guid responseId, Stream content, CancellationToken cancellationToken)
    {
        await using var importer = await connection.BeginBinaryImportAsync(
            "COPY storage_delivery_chunks (response_id, sequence, data) FROM STDIN (FORMAT BINARY)", cancellationToken);
        // Pooled: every upload would otherwise allocate a large-object-heap slice, and the collections that follow
        // pause every request, Play included.
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            var sequence = 0;
            while (true)
            {
                var filled = 0;
                int read;
                while (filled < ChunkBytes
                    && (read = await content.ReadAsync(buffer.AsMemory(filled, ChunkBytes - filled), cancellationToken)) > 0)
                {
                    filled += read;
                }

                if (filled == 0 && sequence > 0)
                {
                    break;
                }

                await importer.StartRowAsync(cancellationToken);
                await importer.WriteAsync(responseId, NpgsqlDbType.Uuid, cancellationToken);
                await importer.WriteAsync(sequence++, NpgsqlDbType.Integer, cancellationToken);
                await importer.WriteAsync(new ArraySegment<byte>(buffer, 0, filled), NpgsqlDbType.Bytea, cancellationToken);
                if (filled < ChunkBytes)
                {
                    break;
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        await importer.CompleteAsync(cancellationToken);
    }

    /// <summary>Claims up to <paramref name="limit"/> due deliveries, each leased for its attempt's time, with the
    /// response's current visitor number: files, or the texts of answers (<paramref name="answerTexts"/>).</summary>
    internal async Task<List<DeliveryItem>> ClaimDueAsync(int limit, bool answerTexts, StorageOptions options,
        CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ClaimSql);
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        command.Parameters.Add(
            new NpgsqlParameter<double> { TypedValue = (options.UploadTimeout + StorageOptions.LeaseMargin).TotalSeconds });
        command.Parameters.Add(new NpgsqlParameter<double> { TypedValue = options.MinUploadBytesPerSecond });
        command.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = answerTexts });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var items = new List<DeliveryItem>();
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add(new DeliveryItem(
                ResponseId: reader.GetGuid(0),
                ObjectName: reader.GetString(1),
                ContentType: reader.GetString(2),
                SizeBytes: reader.GetInt64(3),
                Md5Hash: reader.GetString(4),
                OriginalName: reader.GetString(5),
                UploadedAt: reader.GetFieldValue<DateTimeOffset>(6),
                Attempts: reader.GetInt32(7),
                SessionId: reader.GetGuid(8),
                UserId: reader.GetGuid(9),
                ExperimentId: reader.GetGuid(10),
                VisitorNumber: reader.IsDBNull(11) ? null : reader.GetInt32(11),
                ResponseType: reader.GetString(12))
            {
                // A text answer's content is its own row's answer: read with the claim, as PendingContentStream would.
                AnswerText = reader.IsDBNull(13)
                    ? null
                    : System.Text.Encoding.UTF8.GetBytes(Responses.ResponseIntake.TextOf(reader.GetString(13)) ?? ""),
            });
        }

        return items;
    }

    /// <summary>The upload is in storage: forget its bytes and mark the response stored, noting which visitor
    /// number the object's metadata carries. False when the response is gone (erased by a withdrawal meanwhile).</summary>
    internal async Task<bool> CompleteAsync(Guid responseId, int? objectVisitorNumber, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(CompleteSql);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = responseId });
        command.Parameters.Add(
            new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = (object?)objectVisitorNumber ?? DBNull.Value });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary><see cref="CompleteAsync"/> for many uploads in one statement: the ids among them whose response is
    /// gone.</summary>
    internal async Task<List<Guid>> CompleteManyAsync(IReadOnlyList<(Guid ResponseId, int? ObjectVisitorNumber)> stored,
        CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(CompleteManySql);
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. stored.Select(s => s.ResponseId)] });
        command.Parameters.Add(new NpgsqlParameter<int?[]> { TypedValue = [.. stored.Select(s => s.ObjectVisitorNumber)] });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var gone = new List<Guid>();
        while (await reader.ReadAsync(cancellationToken))
        {
            gone.Add(reader.GetGuid(0));
        }

        return gone;
    }

    internal Task RescheduleAsync(Guid responseId, TimeSpan delay, string error, CancellationToken cancellationToken) =>
        RescheduleAsync(responseId, delay, error, rejected: false, cancellationToken);

    /// <summary>Storage refused this one upload (400, 403, ...): kept, retried only after the longest backoff, and
    /// counted in the audit until an attempt gets past the refusal.</summary>
    internal Task RejectAsync(Guid responseId, TimeSpan delay, string error, CancellationToken cancellationToken) =>
        RescheduleAsync(responseId, delay, error, rejected: true, cancellationToken);

    private async Task RescheduleAsync(Guid responseId, TimeSpan delay, string error, bool rejected, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE storage_deliveries
            SET next_attempt_at = now() + $2, last_error = $3, rejected_at = CASE WHEN $4 THEN now() END
            WHERE response_id = $1
            """);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = responseId });
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = delay });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = error.Length > 500 ? error[..500] : error });
        command.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = rejected });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The stored content of a pending delivery, read slice by slice from the database.</summary>
    internal Stream OpenContent(Guid responseId, long length) => new PendingContentStream(bulk.DataSource, responseId, length);
}
