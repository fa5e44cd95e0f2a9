using Npgsql;

namespace MindJourney.Api.Admin;

/// <summary>One row of the researcher page's participants table: a session, its person's number and its progress.
/// <see cref="VisitorNumber"/> is a pilot number when <see cref="Mode"/> is pilot. <see cref="WithdrawnAt"/>: the person
/// withdrew then (their data is erased, the row shows "Withdrawn"). The recruitment fields: the panel that sent the
/// person to the study and its ids (null for someone who came without, and once withdrawn).</summary>
public sealed record ParticipantRow(
    Guid SessionId,
    int? VisitorNumber,
    string Mode,
    string? Condition,
    DateTimeOffset CreatedAt,
    int CurrentLevel,
    int TotalLevels,
    bool IsCompleted,
    long Responses,
    long Files,
    Guid ExperimentId,
    int? StudyParticipantNumber,
    Guid UserId,
    DateTimeOffset? WithdrawnAt,
    string? RecruitmentSource = null,
    string? RecruitmentParticipantId = null,
    string? RecruitmentStudyId = null,
    string? RecruitmentSessionId = null);

/// <summary>
/// Sessions newest first, a page at a time. Session ids are UUIDv7 (time-ordered), so the primary key is the
/// order in which sessions started: a page is one walk down that index from the cursor, and each row's response
/// and file counts one probe of <c>(session_id, created_at)</c>. Nothing counts every session, so a page costs
/// the same with a million of them.
/// </summary>
public sealed class ParticipantList(NpgsqlDataSource dataSource)
{
    public const int DefaultPage = 50;
    public const int MaxPage = 500;

    private const string Columns = """
        SELECT s.id, s.visitor_number, s.mode, s.condition, s.created_at, s.current_level, e.total_levels, s.is_completed,
               c.responses, c.files, s.experiment_id, s.study_participant_number, s.user_id, u.withdrawn_at,
               p.source, p.participant_id, p.panel_study_id, p.panel_session_id
        FROM experiment_sessions s
        JOIN experiments e ON e.id = s.experiment_id
        JOIN users u ON u.id = s.user_id
        CROSS JOIN LATERAL (
            SELECT count(*) AS responses, count(r.file_id) AS files FROM experiment_responses r WHERE r.session_id = s.id
        ) c
        LEFT JOIN LATERAL (
            SELECT x.source, x.participant_id, x.panel_study_id, x.panel_session_id FROM recruitments x
            WHERE x.user_id = s.user_id AND x.experiment_id = s.experiment_id ORDER BY x.created_at LIMIT 1
        ) p ON TRUE
        """;

    // One study's page walks the (experiment_id, id) index the same way. A search names a person: by visitor number, or
    // by the participant id a panel sent (recruitments), to find them for a withdrawal.
    private const string Filters = """
         AND ($3::uuid IS NULL OR s.experiment_id = $3) AND ($4::int IS NULL OR s.visitor_number = $4)
         AND ($5::text IS NULL OR s.user_id IN (SELECT user_id FROM recruitments WHERE participant_id = $5))
        """;

    private const string FirstPageSql = Columns + " WHERE TRUE" + Filters + " ORDER BY s.id DESC LIMIT $1";
    private const string NextPageSql = Columns + " WHERE s.id < $2" + Filters + " ORDER BY s.id DESC LIMIT $1";

    /// <summary>Up to <paramref name="limit"/> sessions that started before the session <paramref name="before"/>
    /// (all, without it), newest first; of one study, or of all.</summary>
    public async Task<List<ParticipantRow>> PageAsync(int limit, Guid? before, Guid? experimentId, CancellationToken cancellationToken,
        int? visitorNumber = null, string? participantId = null)
    {
        await using var command = dataSource.CreateCommand(before is null ? FirstPageSql : NextPageSql);
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = before ?? Guid.Empty });
        command.Parameters.Add(new NpgsqlParameter
        {
            NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Uuid,
            Value = (object?)experimentId ?? DBNull.Value,
        });
        command.Parameters.Add(new NpgsqlParameter
        {
            NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer,
            Value = (object?)visitorNumber ?? DBNull.Value,
        });
        command.Parameters.Add(new NpgsqlParameter
        {
            NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text,
            Value = (object?)participantId ?? DBNull.Value,
        });

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<ParticipantRow>(limit);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new ParticipantRow(
                reader.GetGuid(0),
                reader.IsDBNull(1) ? null : reader.GetInt32(1),
                reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetFieldValue<DateTimeOffset>(4),
                reader.GetInt32(5),
                reader.GetInt32(6),
                reader.GetBoolean(7),
                reader.GetInt64(8),
                reader.GetInt64(9),
                reader.GetGuid(10),
                reader.IsDBNull(11) ? null : reader.GetInt32(11),
                reader.GetGuid(12),
                reader.IsDBNull(13) ? null : reader.GetFieldValue<DateTimeOffset>(13),
                reader.IsDBNull(14) ? null : reader.GetString(14),
                reader.IsDBNull(15) ? null : reader.GetString(15),
                reader.IsDBNull(16) ? null : reader.GetString(16),
                reader.IsDBNull(17) ? null : reader.GetString(17)));
        }

        return rows;
    }
}
