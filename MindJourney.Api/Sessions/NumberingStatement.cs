using Npgsql;
using NpgsqlTypes;

namespace MindJourney.Api.Sessions;

/// <summary>What one request asks a numbering statement to do. <c>IdempotencyKey</c> is the key's HMAC
/// (<see cref="IdempotencyKeyHasher"/>), never the key as sent. <c>Recruitment</c>: a panel's person, only ever
/// through the single statement (<see cref="VisitorNumberSql.Recruited"/>).</summary>
internal readonly record struct NumberingRequest(
    Guid ExperimentId, int CurrentLevel, Guid UserId, Guid SessionId, string? BranchingPath, string? SessionData,
    string? IdempotencyKey, byte[]? Fingerprint, byte[] SecretHash, string Mode, Recruited? Recruitment = null);

/// <summary>The session a numbering statement created or replayed.</summary>
internal readonly record struct NumberingRow(
    SessionDetails Session, bool NewlyAssigned, bool Replayed, bool SameRequest, bool SecretIssued);

/// <summary>
/// The contract of the numbering statements (<see cref="VisitorNumberSql"/>), for the single statement
/// (<see cref="VisitorNumberAssigner"/>) and the batch (<see cref="NumberingBatcher"/>) alike: the parameters they
/// take, bound from one list, and the row they answer with, read by column name.
/// </summary>
internal static class NumberingStatement
{
    /// <summary>The columns of every numbering statement's row, in this order. A batch adds <see cref="Position"/>.</summary>
    public const string RowColumns = """
        id, user_id, experiment_id, visitor_number, study_participant_number, current_level, branching_path, is_completed,
        created_at, updated_at, total_levels, newly_assigned, replayed, same_request, mode, condition, condition_order,
        secret_issued
        """;

    /// <summary>A batch row's request: its 1-based place in the batch.</summary>
    public const string Position = "position";

    // $1 to $10, in this order. The single statement takes each as a value; the batch as an array with one
    // element per request, null where a request has none.
    private static readonly Parameter[] Parameters =
    [
        new Parameter<Guid>(NpgsqlDbType.Uuid, r => r.ExperimentId),
        new Parameter<int>(NpgsqlDbType.Integer, r => r.CurrentLevel),
        new Parameter<Guid>(NpgsqlDbType.Uuid, r => r.UserId),
        new Parameter<Guid>(NpgsqlDbType.Uuid, r => r.SessionId),
        new Parameter<string?>(NpgsqlDbType.Text, r => r.BranchingPath),
        new Parameter<string?>(NpgsqlDbType.Jsonb, r => r.SessionData),
        new Parameter<string?>(NpgsqlDbType.Text, r => r.IdempotencyKey),
        new Parameter<byte[]?>(NpgsqlDbType.Bytea, r => r.Fingerprint),
        new Parameter<byte[]>(NpgsqlDbType.Bytea, r => r.SecretHash),
        new Parameter<string>(NpgsqlDbType.Text, r => r.Mode),
    ];

    // $11 to $15 of a recruited request's statement: the panel's source, the person's key and the ids as sent.
    private static readonly Parameter[] RecruitmentParameters =
    [
        new Parameter<string>(NpgsqlDbType.Text, r => r.Recruitment!.Source),
        new Parameter<byte[]>(NpgsqlDbType.Bytea, r => r.Recruitment!.ParticipantKey),
        new Parameter<string>(NpgsqlDbType.Text, r => r.Recruitment!.ParticipantId),
        new Parameter<string?>(NpgsqlDbType.Text, r => r.Recruitment!.StudyId),
        new Parameter<string?>(NpgsqlDbType.Text, r => r.Recruitment!.SessionId),
    ];

    /// <summary>The single statement for one request (a recruited one's takes its recruitment too).</summary>
    public static NpgsqlBatchCommand ForOne(string sql, in NumberingRequest request)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var parameter in Parameters)
        {
            command.Parameters.Add(parameter.One(request));
        }

        if (request.Recruitment is not null)
        {
            foreach (var parameter in RecruitmentParameters)
            {
                command.Parameters.Add(parameter.One(request));
            }
        }

        return command;
    }

    /// <summary>The batch statement for these requests, in this order.</summary>
    public static NpgsqlBatchCommand ForMany(string sql, IReadOnlyList<NumberingRequest> requests)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var parameter in Parameters)
        {
            command.Parameters.Add(parameter.Many(requests));
        }

        return command;
    }

    /// <summary>Where the reader's result holds each column of the row, looked up by name once per result.</summary>
    public sealed class Columns
    {
        private readonly int _id, _userId, _experimentId, _visitorNumber, _studyNumber, _currentLevel, _branchingPath, _isCompleted,
            _createdAt, _updatedAt, _totalLevels, _newlyAssigned, _replayed, _sameRequest, _mode, _condition,
            _conditionOrder, _secretIssued;

        public Columns(NpgsqlDataReader reader)
        {
            _id = reader.GetOrdinal("id");
            _userId = reader.GetOrdinal("user_id");
            _experimentId = reader.GetOrdinal("experiment_id");
            _visitorNumber = reader.GetOrdinal("visitor_number");
            _studyNumber = reader.GetOrdinal("study_participant_number");
            _currentLevel = reader.GetOrdinal("current_level");
            _branchingPath = reader.GetOrdinal("branching_path");
            _isCompleted = reader.GetOrdinal("is_completed");
            _createdAt = reader.GetOrdinal("created_at");
            _updatedAt = reader.GetOrdinal("updated_at");
            _totalLevels = reader.GetOrdinal("total_levels");
            _newlyAssigned = reader.GetOrdinal("newly_assigned");
            _replayed = reader.GetOrdinal("replayed");
            _sameRequest = reader.GetOrdinal("same_request");
            _mode = reader.GetOrdinal("mode");
            _condition = reader.GetOrdinal("condition");
            _conditionOrder = reader.GetOrdinal("condition_order");
            _secretIssued = reader.GetOrdinal("secret_issued");
        }

        /// <summary>The row the reader is on.</summary>
        public NumberingRow Read(NpgsqlDataReader reader)
        {
            var totalLevels = reader.GetInt32(_totalLevels);
            var currentLevel = reader.GetInt32(_currentLevel);
            var isCompleted = reader.GetBoolean(_isCompleted);
            var session = new SessionDetails(
                Id: reader.GetGuid(_id),
                UserId: reader.GetGuid(_userId),
                ExperimentId: reader.GetGuid(_experimentId),
                VisitorNumber: reader.IsDBNull(_visitorNumber) ? null : reader.GetInt32(_visitorNumber),
                StudyParticipantNumber: reader.IsDBNull(_studyNumber) ? null : reader.GetInt32(_studyNumber),
                Mode: reader.GetString(_mode),
                Condition: reader.IsDBNull(_condition) ? null : reader.GetString(_condition),
                ConditionOrder: reader.IsDBNull(_conditionOrder) ? null : reader.GetFieldValue<string[]>(_conditionOrder),
                CurrentLevel: currentLevel,
                TotalLevels: totalLevels,
                PercentComplete: SessionDetails.Percent(currentLevel, totalLevels, isCompleted),
                BranchingPath: reader.IsDBNull(_branchingPath) ? null : reader.GetString(_branchingPath),
                IsCompleted: isCompleted,
                CreatedAt: reader.GetFieldValue<DateTimeOffset>(_createdAt),
                UpdatedAt: reader.GetFieldValue<DateTimeOffset>(_updatedAt));
            return new NumberingRow(session, reader.GetBoolean(_newlyAssigned), reader.GetBoolean(_replayed),
                reader.GetBoolean(_sameRequest), reader.GetBoolean(_secretIssued));
        }
    }

    private abstract class Parameter
    {
        public abstract NpgsqlParameter One(in NumberingRequest request);

        public abstract NpgsqlParameter Many(IReadOnlyList<NumberingRequest> requests);
    }

    private sealed class Parameter<T>(NpgsqlDbType type, Func<NumberingRequest, T> value) : Parameter
    {
        public override NpgsqlParameter One(in NumberingRequest request) =>
            value(request) is { } given
                ? new NpgsqlParameter<T> { NpgsqlDbType = type, TypedValue = given }
                : new NpgsqlParameter { NpgsqlDbType = type, Value = DBNull.Value };

        public override NpgsqlParameter Many(IReadOnlyList<NumberingRequest> requests)
        {
            var values = new T[requests.Count];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = value(requests[i]);
            }

            return new NpgsqlParameter<T[]> { NpgsqlDbType = NpgsqlDbType.Array | type, TypedValue = values };
        }
    }
}
