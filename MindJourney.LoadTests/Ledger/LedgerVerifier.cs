using System.Globalization;
using System.Security.Cryptography;
using Google.Cloud.Storage.V1;
using Npgsql;

namespace MindJourney.LoadTests.Ledger;

/// <summary>Where the written data lives: the database, and the bucket its files went to (null: files' bytes are not
/// read back).</summary>
public sealed record LedgerSources(string ConnectionString, StorageClient? Storage = null, string? Bucket = null);

/// <summary>The fault's window in Unix milliseconds (either may be unknown).</summary>
public readonly record struct FaultWindow(long? Start, long? End);

/// <summary>
/// Checks a ledger (<see cref="LedgerWriter"/>) against what the system holds, as Jepsen's checkers do: every session
/// and answer the API acknowledged must be found with the numbers it was acknowledged with, no number may be held
/// twice, and every file's bytes must be the ones sent (in storage, or in the outbox while still pending). It also
/// counts the numbers the sequence drew that nobody holds (burned) and the refusals the run met.
/// </summary>
public static class LedgerVerifier
{
    private const int MaxExamples = 10;
    private const string Live = "live";

    public static async Task<LedgerReport> VerifyAsync(IReadOnlyList<LedgerEntry> ledger, LedgerSources sources, FaultWindow fault,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(sources);
        var sessions = ledger.Where(e => e.Kind == LedgerEntry.SessionKind && e.Id is not null).ToList();
        var answers = ledger.Where(e => e.Kind == LedgerEntry.AnswerKind && e.Id is not null).ToList();
        var examples = new List<string>();

        await using var source = NpgsqlDataSource.Create(sources.ConnectionString);
        await using var connection = await source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

        // sessions: found, and with the numbers they were acknowledged with
        var stored = new Dictionary<Guid, (int? Number, int? StudyNumber)>();
        await using (var command = new NpgsqlCommand(
            "SELECT id, visitor_number, study_participant_number FROM experiment_sessions WHERE id = ANY($1)", connection))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = sessions.Select(s => s.Id!.Value).ToArray() });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                stored[reader.GetGuid(0)] = (
                    reader.IsDBNull(1) ? null : reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetInt32(2));
            }
        }

        int sessionsFound = 0, changed = 0, lost = 0;
        foreach (var session in sessions)
        {
            if (!stored.TryGetValue(session.Id!.Value, out var row))
            {
                lost++;
                Note(examples, $"session {session.Id} (visitor #{session.VisitorNumber}) acknowledged but not found");
                continue;
            }

            sessionsFound++;
            if (row.Number != session.VisitorNumber
                || (session.StudyParticipantNumber is not null && row.StudyNumber != session.StudyParticipantNumber))
            {
                changed++;
                Note(examples, $"session {session.Id}: acknowledged #{session.VisitorNumber} (study {session.StudyParticipantNumber}), "
                    + $"stored #{row.Number} (study {row.StudyNumber})");
            }
        }

        // answers: found, and each file's bytes
        var (answersFound, filesChecked, filesPending, filesDiffering) =
            await CheckAnswersAsync(connection, answers, sources, examples, cancellationToken).ConfigureAwait(false);
        lost += answers.Count - answersFound;

        // numbers: duplicates in the database and in the ledger, and the gaps the sequences left
        var duplicates = await CountAsync(connection, """
            SELECT (SELECT count(*) FROM (SELECT 1 FROM users WHERE visitor_number IS NOT NULL
                                          GROUP BY mode, visitor_number HAVING count(*) > 1) d)
                 + (SELECT count(*) FROM (SELECT 1 FROM experiment_sessions WHERE study_participant_number IS NOT NULL
                                          GROUP BY experiment_id, mode, study_participant_number
                                          HAVING count(DISTINCT user_id) > 1) s)
            """, cancellationToken).ConfigureAwait(false);
        var twiceInLedger = sessions.Where(s => s.VisitorNumber is not null)
            .GroupBy(s => (s.Mode ?? Live, s.VisitorNumber)).Count(g => g.Select(s => s.Id).Distinct().Count() > 1);
        if (twiceInLedger > 0)
        {
            Note(examples, $"{twiceInLedger} visitor numbers acknowledged to more than one new person");
        }

        var liveSequence = await CountAsync(connection,
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM visitor_counter_sequence", cancellationToken).ConfigureAwait(false);
        var pilotSequence = await CountAsync(connection,
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM pilot_counter_sequence", cancellationToken).ConfigureAwait(false);
        var (burned, runs) = await GapsAsync(connection, liveSequence, cancellationToken).ConfigureAwait(false);

        // the run's refusals and timings
        var refused = ledger.Where(e => e.Kind == LedgerEntry.RefusedKind).ToList();
        var acknowledged = ledger.Where(e => e.Kind != LedgerEntry.RefusedKind).ToList();
        var firstAfter = fault.End is { } end ? acknowledged.Where(e => e.At >= end).Select(e => (long?)e.At).Min() : null;
        return new LedgerReport
        {
            SessionsAcknowledged = sessions.Count,
            AnswersAcknowledged = answers.Count,
            SessionsFound = sessionsFound,
            AnswersFound = answersFound,
            Lost = lost,
            NumbersChanged = changed,
            Duplicates = (int)duplicates + twiceInLedger,
            LiveSequence = liveSequence,
            PilotSequence = pilotSequence,
            Burned = burned,
            BurnedRuns = runs,
            FilesChecked = sources.Storage is null ? null : filesChecked,
            FilesPending = filesPending,
            FilesDiffering = sources.Storage is null ? null : filesDiffering,
            Refused = refused.Where(r => fault.Start is not { } s || r.At >= s)
                .GroupBy(r => r.Status ?? "?").ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
            RefusedBefore = fault.Start is { } start ? refused.Count(r => r.At < start) : 0,
            FirstSuccessSeconds = firstAfter is { } first && fault.End is { } e2 ? (first - e2) / 1000.0 : null,
            LongestRequestSeconds = ledger.Count == 0 ? 0 : ledger.Max(e => e.Ms) / 1000,
            Examples = examples,
        };
    }

    private static async Task<(int Found, int Checked, int Pending, int Differing)> CheckAnswersAsync(NpgsqlConnection connection,
        List<LedgerEntry> answers, LedgerSources sources, List<string> examples, CancellationToken cancellationToken)
    {
        var rows = new Dictionary<Guid, (string? ObjectName, string? Status)>();
        await using (var command = new NpgsqlCommand(
            "SELECT id, file_id, storage_status FROM experiment_responses WHERE id = ANY($1)", connection))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = answers.Select(a => a.Id!.Value).ToArray() });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rows[reader.GetGuid(0)] = (
                    reader.IsDBNull(1) ? null : reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2));
            }
        }

        int found = 0, filesChecked = 0, pending = 0, differing = 0;
        foreach (var answer in answers)
        {
            if (!rows.TryGetValue(answer.Id!.Value, out var row))
            {
                Note(examples, $"{answer.Type} answer {answer.Id} of session {answer.Session} acknowledged but not found");
                continue;
            }

            found++;
            if (answer.Md5 is null || sources.Storage is null)
            {
                continue;
            }

            var bytes = row.Status == "pending"
                ? await PendingBytesAsync(connection, answer.Id!.Value, cancellationToken).ConfigureAwait(false)
                : await StoredBytesAsync(sources, row.ObjectName, cancellationToken).ConfigureAwait(false);
            pending += row.Status == "pending" ? 1 : 0;
            filesChecked++;
            var md5 = bytes is null ? null : Convert.ToBase64String(MD5.HashData(bytes));
            if (md5 != answer.Md5 || bytes!.Length != answer.Size)
            {
                differing++;
                Note(examples, $"{answer.Type} answer {answer.Id} ({row.Status}, {row.ObjectName}): sent {answer.Size} bytes MD5 "
                    + $"{answer.Md5}, read {(bytes is null ? "nothing" : $"{bytes.Length} bytes MD5 {md5}")}");
            }
        }

        return (found, filesChecked, pending, differing);
    }

    /// <summary>A pending file's bytes, as the outbox keeps them for the worker.</summary>
    private static async Task<byte[]?> PendingBytesAsync(NpgsqlConnection connection, Guid responseId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT data FROM storage_delivery_chunks WHERE response_id = $1 ORDER BY sequence", connection);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = responseId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var any = false;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            any = true;
            var chunk = reader.GetFieldValue<byte[]>(0);
            buffer.Write(chunk);
        }

        return any ? buffer.ToArray() : null;
    }

    private static async Task<byte[]?> StoredBytesAsync(LedgerSources sources, string? objectName, CancellationToken cancellationToken)
    {
        if (objectName is null)
        {
            return null;
        }

        try
        {
            using var buffer = new MemoryStream();
            await sources.Storage!.DownloadObjectAsync(sources.Bucket, objectName, buffer, cancellationToken: cancellationToken)
                .ConfigureAwait(false);
            return buffer.ToArray();
        }
        catch (Google.GoogleApiException e) when (e.HttpStatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Live numbers from 1 to the sequence's last value that no person holds.</summary>
    private static async Task<(long Count, string Runs)> GapsAsync(NpgsqlConnection connection, long last,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT min(n), max(n) FROM (
                SELECT n, n - row_number() OVER (ORDER BY n) AS island
                FROM generate_series(1, $1::bigint) n
                WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.mode = 'live' AND u.visitor_number = n)) g
            GROUP BY island ORDER BY 1
            """, connection);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = last });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        long count = 0;
        var runs = new List<string>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var (from, to) = (reader.GetInt64(0), reader.GetInt64(1));
            count += to - from + 1;
            runs.Add(from == to
                ? from.ToString(CultureInfo.InvariantCulture)
                : string.Create(CultureInfo.InvariantCulture, $"{from}-{to}"));
        }

        return (count, runs.Count <= 6 ? string.Join(", ", runs) : $"{string.Join(", ", runs.Take(6))} and {runs.Count - 6} more");
    }

    private static async Task<long> CountAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    private static void Note(List<string> examples, string example)
    {
        if (examples.Count < MaxExamples)
        {
            examples.Add(example);
        }
    }
}
