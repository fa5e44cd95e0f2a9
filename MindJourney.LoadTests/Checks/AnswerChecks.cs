using System.Globalization;
using System.Text;
using MindJourney.LoadTests.Runner;

namespace MindJourney.LoadTests.Checks;

/// <summary>Check 6: the database holds every answer the run sent exactly once, whatever <c>--flaky</c> cut.</summary>
public static class AnswerChecks
{
    private const int MaxListed = 5;

    /// <summary>
    /// Compares the run's ledger with the answers stored for the run's sessions. An answer the API acknowledged (a 201,
    /// after any number of attempts) must be stored exactly once; one never acknowledged (every attempt lost, or the
    /// run ended first) at most once; a stored answer nobody sent fails too. Each key is sent with one marker only, so a
    /// marker never holding more rows than answers sent with it means no two rows share a key.
    /// </summary>
    /// <param name="sent">Every answer and upload of the run (<see cref="RunLedger.Answers"/>).</param>
    /// <param name="sessions">The run's sessions: stored answers of other sessions are not the run's.</param>
    /// <param name="stored">The answers the database holds (of these sessions, or more).</param>
    public static CheckResult ExactlyOnce(IReadOnlyCollection<SentAnswer> sent, IReadOnlyCollection<Guid> sessions,
        IEnumerable<StoredAnswer> stored)
    {
        ArgumentNullException.ThrowIfNull(sent);
        ArgumentNullException.ThrowIfNull(sessions);
        ArgumentNullException.ThrowIfNull(stored);
        const string name = CheckNames.AnswersExactlyOnce;
        if (sent.Count == 0)
        {
            return CheckResult.Fail(name, "no answer was sent in the run, so nothing was checked");
        }

        var runSessions = sessions as IReadOnlySet<Guid> ?? sessions.ToHashSet();
        var rows = new Dictionary<AnswerMarker, int>();
        long storedRows = 0;
        foreach (var row in stored)
        {
            if (runSessions.Contains(row.Marker.SessionId))
            {
                storedRows++;
                rows[row.Marker] = rows.GetValueOrDefault(row.Marker) + 1;
            }
        }

        var problems = new List<string>();
        long doubled = 0, missing = 0, unsent = 0;
        foreach (var group in sent.GroupBy(a => a.Marker))
        {
            var (count, acknowledged) = (group.Count(), group.Count(a => a.Acknowledged));
            var held = rows.GetValueOrDefault(group.Key);
            if (held > count)
            {
                doubled += held - count;
                problems.Add($"{Show(group.Key)}: stored {Times(held)}, sent {Times(count)}");
            }
            else if (held < acknowledged)
            {
                missing += acknowledged - held;
                problems.Add($"{Show(group.Key)}: acknowledged {Times(acknowledged)}, stored {Times(held)}");
            }

            rows.Remove(group.Key);
        }

        foreach (var (marker, held) in rows)
        {
            unsent += held;
            problems.Add($"{Show(marker)}: stored {Times(held)}, never sent");
        }

        var keys = sent.Select(a => a.Key).Distinct(StringComparer.Ordinal).Count();
        var detail = new StringBuilder();
        detail.Append(
            CultureInfo.InvariantCulture,
            $"{sent.Count} answers sent ({sent.Count(a => a.Acknowledged)} acknowledged), "
            + $"{sent.Count(a => a.Attempts > 1)} retried ({sent.Sum(a => a.Cuts)} attempts cut by --flaky), "
            + $"{storedRows} stored");
        if (keys != sent.Count)
        {
            problems.Add($"{sent.Count - keys} Idempotency-Keys sent with more than one answer");
        }

        if (problems.Count > 0)
        {
            detail.Append(CultureInfo.InvariantCulture, $"; {doubled} extra copies, {missing} acknowledged but not stored, ");
            detail.Append(CultureInfo.InvariantCulture, $"{unsent} stored but never sent: ");
            detail.Append(string.Join("; ", problems.Take(MaxListed)));
            if (problems.Count > MaxListed)
            {
                detail.Append("; …");
            }

            return CheckResult.Fail(name, detail.ToString());
        }

        detail.Append("; each exactly once, no two rows with one key");
        return CheckResult.Pass(name, detail.ToString());
    }

    private static string Show(AnswerMarker m) => $"session {m.SessionId} level {m.LevelId} question {m.QuestionId} ({m.ResponseType})";

    private static string Times(int n) => n switch
    {
        0 => "never",
        1 => "once",
        2 => "twice",
        _ => string.Create(CultureInfo.InvariantCulture, $"{n} times"),
    };
}
