using Npgsql;

namespace MindJourney.Api.Experiments;

/// <summary>How many live sessions of a study started in one bucket of time, and how many of those are completed:
/// overall and per condition.</summary>
public sealed record EnrollmentBucket(
    DateTimeOffset Start,
    long Started,
    long Completed,
    Dictionary<string, ConditionEnrollment> ByCondition);

public sealed record ConditionEnrollment(long Started, long Completed);

/// <summary>
/// A study's enrollment over time, for the researcher page's chart: live sessions only (pilots are not enrolment),
/// each counted in the bucket its session was created in (UTC), whether or not it is completed; a session completed
/// days later still counts in the bucket it started in, so a past bucket's figures change only as its people
/// finish. One statement: the study's row (so an unknown study is told from an empty one) joined to its sessions
/// grouped by bucket and condition, folded into buckets here. Buckets are cut by <c>date_bin</c> from a UTC
/// midnight (plain arithmetic on the instant), which reads a million sessions in half the time of
/// <c>date_trunc(…, 'UTC')</c>'s time-zone conversion per row (docs/BENCHMARKS.md).
/// </summary>
public sealed class StudyEnrollment(NpgsqlDataSource dataSource)
{
    public const string Hour = "hour";
    public const string Day = "day";

    private const string Sql = """
        SELECT b.start, b.condition, b.started, b.completed
        FROM experiments e
        LEFT JOIN LATERAL (
            SELECT date_bin($2, s.created_at, timestamptz '2000-01-01 00:00:00+00') AS start, s.condition,
                   count(*) AS started, count(*) FILTER (WHERE s.is_completed) AS completed
            FROM experiment_sessions s
            WHERE s.experiment_id = e.id AND s.mode = 'live'
            GROUP BY 1, 2
        ) b ON true
        WHERE e.id = $1
        ORDER BY b.start, b.condition
        """;

    /// <summary>The study's buckets in time order (empty buckets left out), or null when there is no such study.
    /// <paramref name="bucket"/> is <see cref="Hour"/> or <see cref="Day"/>.</summary>
    public async Task<List<EnrollmentBucket>?> ReadAsync(Guid studyId, string bucket, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Sql);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = studyId });
        var width = bucket == Hour ? TimeSpan.FromHours(1) : TimeSpan.FromDays(1);
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = width });

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var buckets = new List<EnrollmentBucket>();
        do
        {
            if (reader.IsDBNull(0))
            {
                break; // the study has no live session yet
            }

            var start = reader.GetFieldValue<DateTimeOffset>(0);
            var (started, completed) = (reader.GetInt64(2), reader.GetInt64(3));
            if (buckets.Count == 0 || buckets[^1].Start != start)
            {
                buckets.Add(new EnrollmentBucket(start, 0, 0, []));
            }

            var current = buckets[^1];
            buckets[^1] = current with { Started = current.Started + started, Completed = current.Completed + completed };
            // A session without a condition (a study without conditions) counts in the totals only.
            if (!reader.IsDBNull(1))
            {
                current.ByCondition[reader.GetString(1)] = new ConditionEnrollment(started, completed);
            }
        }
        while (await reader.ReadAsync(cancellationToken));

        return buckets;
    }
}
