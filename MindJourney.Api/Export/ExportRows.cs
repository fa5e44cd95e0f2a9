using MindJourney.Api.Data;
using MindJourney.Api.Responses;
using Npgsql;
using NpgsqlTypes;

namespace MindJourney.Api.Export;

/// <summary>What an export covers: a session mode (or both), an inclusive range of visitor numbers, and one study
/// (or all).</summary>
public sealed record ExportFilter(string Mode, int? From, int? To, Guid? ExperimentId = null)
{
    public const string All = "all";
}

/// <summary>One row of an export: a response with its session, or a session that has no response (its response
/// fields null).</summary>
public readonly record struct ExportRow(
    int? VisitorNumber, string Mode, string? Condition, Guid SessionId, Guid UserId, Guid? ResponseId, string? LevelId,
    string? QuestionId, string? ResponseType, string? Text, string? FileObjectName, long? FileSizeBytes, string? FileMd5,
    DateTimeOffset? CreatedAt, bool Pending, string? RecruitmentSource = null, string? RecruitmentParticipantId = null,
    string? RecruitmentStudyId = null, string? RecruitmentSessionId = null)
{
    /// <summary>A stored file (or text) belongs to the row: in storage, or still in the durable copy.</summary>
    public bool HasFile => ResponseId is not null && FileObjectName is not null;
}

/// <summary>
/// Reads an export's rows with one forward-only reader on the bulk pool (a long export never takes a connection
/// Play needs), ordered by mode, visitor number (unnumbered sessions last), session start, then response time.
/// </summary>
public static class ExportRows
{
    /// <summary>The sessions an export covers; people who withdrew are left out (the zip's manifest counts them).</summary>
    private const string Covered = """
        WHERE ($1::text IS NULL OR s.mode = $1)
          AND ($2::int IS NULL OR s.visitor_number >= $2)
          AND ($3::int IS NULL OR s.visitor_number <= $3)
          AND ($4::uuid IS NULL OR s.experiment_id = $4)
        """;

    private const string RowsSql = $"""
        SELECT s.visitor_number, s.mode, s.condition, s.id, s.user_id,
               r.id, r.level_id, r.question_id, r.response_type,
               CASE WHEN r.response_type = 'text' THEN r.response_data::text END,
               CASE WHEN r.storage_status IS NOT NULL THEN r.file_id END, r.file_size_bytes, r.file_md5, r.created_at,
               d.response_id IS NOT NULL,
               p.source, p.participant_id, p.panel_study_id, p.panel_session_id
        FROM experiment_sessions s
        JOIN users u ON u.id = s.user_id AND u.withdrawn_at IS NULL
        LEFT JOIN experiment_responses r ON r.session_id = s.id
        LEFT JOIN storage_deliveries d ON d.response_id = r.id
        -- The panel's ids of the person in this study (recruitments): the researcher's way back to the panel.
        LEFT JOIN LATERAL (
            SELECT x.source, x.participant_id, x.panel_study_id, x.panel_session_id FROM recruitments x
            WHERE x.user_id = s.user_id AND x.experiment_id = s.experiment_id ORDER BY x.created_at LIMIT 1
        ) p ON TRUE
        {Covered}
        ORDER BY s.mode, s.visitor_number NULLS LAST, s.created_at, s.id, r.created_at, r.id
        """;

    private const string WithdrawnSql = $"""
        SELECT count(DISTINCT s.user_id) FROM experiment_sessions s
        JOIN users u ON u.id = s.user_id AND u.withdrawn_at IS NOT NULL
        {Covered}
        """;

    /// <summary>The sort of a large study takes a while before the first row; the rows then follow as read.</summary>
    private const int CommandTimeoutSeconds = 300;

    /// <summary>How many people the filter covers who withdrew (and so are left out of the rows).</summary>
    public static async Task<long> CountWithdrawnAsync(NpgsqlDataSource bulk, ExportFilter filter, CancellationToken cancellationToken)
    {
        await using var command = Command(bulk, WithdrawnSql, filter);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public static async IAsyncEnumerable<ExportRow> ReadAsync(NpgsqlDataSource bulk, ExportFilter filter,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = Command(bulk, RowsSql, filter);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var hasResponse = !reader.IsDBNull(5);
            yield return new ExportRow(
                VisitorNumber: reader.IsDBNull(0) ? null : reader.GetInt32(0),
                Mode: reader.GetString(1),
                Condition: reader.IsDBNull(2) ? null : reader.GetString(2),
                SessionId: reader.GetGuid(3),
                UserId: reader.GetGuid(4),
                ResponseId: hasResponse ? reader.GetGuid(5) : null,
                LevelId: hasResponse ? reader.GetString(6) : null,
                QuestionId: hasResponse ? reader.GetString(7) : null,
                ResponseType: hasResponse ? reader.GetString(8) : null,
                Text: reader.IsDBNull(9) ? null : ResponseIntake.TextOf(reader.GetString(9)),
                FileObjectName: reader.IsDBNull(10) ? null : reader.GetString(10),
                FileSizeBytes: reader.IsDBNull(11) ? null : reader.GetInt64(11),
                FileMd5: reader.IsDBNull(12) ? null : reader.GetString(12),
                CreatedAt: reader.IsDBNull(13) ? null : reader.GetFieldValue<DateTimeOffset>(13),
                Pending: reader.GetBoolean(14),
                RecruitmentSource: reader.IsDBNull(15) ? null : reader.GetString(15),
                RecruitmentParticipantId: reader.IsDBNull(16) ? null : reader.GetString(16),
                RecruitmentStudyId: reader.IsDBNull(17) ? null : reader.GetString(17),
                RecruitmentSessionId: reader.IsDBNull(18) ? null : reader.GetString(18));
        }
    }

    private static NpgsqlCommand Command(NpgsqlDataSource bulk, string sql, ExportFilter filter)
    {
        var command = bulk.CreateCommand(sql);
        command.CommandTimeout = CommandTimeoutSeconds;
        command.Parameters.Add(new NpgsqlParameter
        {
            NpgsqlDbType = NpgsqlDbType.Text,
            Value = filter.Mode == ExportFilter.All ? DBNull.Value : filter.Mode,
        });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = (object?)filter.From ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Integer, Value = (object?)filter.To ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter
        {
            NpgsqlDbType = NpgsqlDbType.Uuid,
            Value = (object?)filter.ExperimentId ?? DBNull.Value,
        });
        return command;
    }

    /// <summary>Where a row's file goes in a zip: <c>visitor-{N}/</c> for live sessions, <c>pilot-{N}/</c> for pilots
    /// (their numbers are their own), <c>unnumbered/</c> for a session still without a number; then the object's
    /// name from <c>session-{id}/</c> on, which is unique.</summary>
    public static string ZipPath(ExportRow row)
    {
        var objectName = row.FileObjectName!;
        var sessionPart = objectName.IndexOf("/session-", StringComparison.Ordinal) is var at and >= 0
            ? objectName[(at + 1)..]
            : $"session-{row.SessionId:D}/{objectName[(objectName.LastIndexOf('/') + 1)..]}";
        var folder = row.VisitorNumber is { } number
            ? (row.Mode == SessionModes.Pilot ? $"pilot-{number}" : $"visitor-{number}")
            : "unnumbered";
        return $"{folder}/{sessionPart}";
    }
}
