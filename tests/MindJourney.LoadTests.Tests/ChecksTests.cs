using System.Text;
using MindJourney.LoadTests.Checks;
using MindJourney.LoadTests.Runner;

namespace MindJourney.LoadTests.Tests;

public sealed class ChecksTests
{
    private static int?[] Numbers(params int?[] n) => n;

    [Fact]
    public void Unique_numbers_pass()
    {
        var r = VisitorNumberChecks.Uniqueness(Numbers(3, 1, 2, 5, 4), allowFallback: false);
        Assert.Equal(CheckOutcome.Passed, r.Outcome);
        Assert.Equal(CheckNames.VisitorNumbersUnique, r.Name);
    }

    [Fact]
    public void A_duplicate_is_detected_and_named()
    {
        var r = VisitorNumberChecks.Uniqueness(Numbers(1, 2, 3, 2, 4, 2), allowFallback: false);
        Assert.Equal(CheckOutcome.Failed, r.Outcome);
        Assert.Contains("2×3", r.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Fallback_nulls_fail_unless_allowed_and_are_counted_apart()
    {
        var numbers = Numbers(1, null, 2, null);
        var strict = VisitorNumberChecks.Uniqueness(numbers, allowFallback: false);
        Assert.Equal(CheckOutcome.Failed, strict.Outcome);
        Assert.Contains("2 fallback", strict.Detail, StringComparison.Ordinal);

        var lenient = VisitorNumberChecks.Uniqueness(numbers, allowFallback: true);
        Assert.Equal(CheckOutcome.Passed, lenient.Outcome);
        Assert.Contains("2 fallback", lenient.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void No_sessions_is_not_a_pass() =>
        Assert.Equal(CheckOutcome.Failed, VisitorNumberChecks.Uniqueness([], false).Outcome);

    [Fact]
    public void Contiguous_among_themselves_passes_and_says_it_is_weaker()
    {
        var r = VisitorNumberChecks.ContiguousAmongThemselves([12, 10, 11, 13]);
        Assert.Equal(CheckOutcome.Passed, r.Outcome);
        Assert.Contains("weaker", r.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_gap_among_themselves_is_detected()
    {
        var r = VisitorNumberChecks.ContiguousAmongThemselves([1, 2, 3, 6, 7, 9]);
        Assert.Equal(CheckOutcome.Failed, r.Outcome);
        Assert.Contains("missing 3: 4-5, 8", r.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_repeat_breaks_contiguity_too() =>
        Assert.Equal(CheckOutcome.Failed, VisitorNumberChecks.ContiguousAmongThemselves([1, 2, 2, 3]).Outcome);

    [Fact]
    public void The_run_owns_exactly_the_range_the_sequence_moved_over()
    {
        var r = VisitorNumberChecks.ContiguousWithSequence([41, 42, 43, 44, 45], lastValueBefore: 40, lastValueAfter: 45);
        Assert.Equal(CheckOutcome.Passed, r.Outcome);
        Assert.Contains("41..45", r.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_number_taken_from_the_sequence_but_not_handed_out_fails()
    {
        // contiguous among themselves, but the sequence moved one further: a burned number
        var r = VisitorNumberChecks.ContiguousWithSequence([41, 42, 43, 44], 40, 45);
        Assert.Equal(CheckOutcome.Failed, r.Outcome);
        Assert.Contains("not handed to the harness: 1 (45)", r.Detail, StringComparison.Ordinal);
        Assert.Equal(CheckOutcome.Passed, VisitorNumberChecks.ContiguousAmongThemselves([41, 42, 43, 44]).Outcome);
    }

    [Fact]
    public void A_number_below_the_range_fails()
    {
        var r = VisitorNumberChecks.ContiguousWithSequence([40, 41, 42], 40, 42);
        Assert.Equal(CheckOutcome.Failed, r.Outcome);
        Assert.Contains("outside the range: 40", r.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_gap_inside_the_range_fails()
    {
        var r = VisitorNumberChecks.ContiguousWithSequence([1, 2, 4, 5], 0, 5);
        Assert.Equal(CheckOutcome.Failed, r.Outcome);
        Assert.Contains("(3)", r.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Responses_must_carry_their_session_number()
    {
        Assert.Equal(CheckOutcome.Passed, VisitorNumberChecks.ResponsesCarrySessionNumber(10, 0, []).Outcome);
        var bad = VisitorNumberChecks.ResponsesCarrySessionNumber(10, 1, ["response x: 7 vs session 8"]);
        Assert.Equal(CheckOutcome.Failed, bad.Outcome);
        Assert.Contains("7 vs session 8", bad.Detail, StringComparison.Ordinal);
        Assert.Equal(CheckOutcome.Failed, VisitorNumberChecks.ResponsesCarrySessionNumber(0, 0, []).Outcome);
    }

    [Fact]
    public void Audit_is_parsed_and_judged()
    {
        var clean = AuditSnapshot.Parse(Encoding.UTF8.GetBytes("""
            { "sequenceLastValue": 120, "users": 118, "numberedUsers": 118, "unnumberedSessions": 0,
              "duplicates": [], "gaps": [ { "from": 5, "to": 6 } ], "mismatchedSessions": 0, "mismatchedResponses": 0, "pendingUploads": 2 }
            """));
        Assert.Equal(120, clean.SequenceLastValue);
        Assert.Equal(new NumberGap(5, 6), Assert.Single(clean.Gaps));
        Assert.Equal(2, clean.PendingUploads);
        Assert.Equal(CheckOutcome.Passed, VisitorNumberChecks.AuditClean(clean).Outcome);

        var dirty = AuditSnapshot.Parse(Encoding.UTF8.GetBytes("""
            { "sequenceLastValue": 9, "duplicates": [ { "visitorNumber": 7, "count": 2 } ], "gaps": [],
              "mismatchedSessions": [ "a" ], "mismatchedResponses": 3 }
            """));
        Assert.Single(dirty.Duplicates);
        Assert.Equal(1, dirty.MismatchedSessions);
        Assert.Equal(3, dirty.MismatchedResponses);
        var judged = VisitorNumberChecks.AuditClean(dirty);
        Assert.Equal(CheckOutcome.Failed, judged.Outcome);
        Assert.Contains("visitorNumber", judged.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Ranges_are_compact() =>
        Assert.Equal("1-3, 5, 7-8", VisitorNumberChecks.FormatRanges([1, 2, 3, 5, 7, 8]));

    [Fact]
    public void Thresholds_compare_against_their_limits()
    {
        var o = new Options.LoadTestOptions { MaxP99Ms = 100, MaxErrorRate = 0.01, MinRps = 50 };
        var pass = ThresholdEvaluator.Evaluate(o, p99Ms: 80, errorRate: 0.005, successfulRps: 60);
        Assert.Equal(3, pass.Count);
        Assert.All(pass, t => Assert.True(t.Passed));
        var fail = ThresholdEvaluator.Evaluate(o, p99Ms: 120, errorRate: 0.02, successfulRps: 40);
        Assert.All(fail, t => Assert.False(t.Passed));
        Assert.Empty(ThresholdEvaluator.Evaluate(new Options.LoadTestOptions(), 1, 1, 1));
    }

    private static readonly Guid SessionA = Guid.Parse("6c1f0000-0000-4000-8000-00000000000a");
    private static readonly Guid SessionB = Guid.Parse("6c1f0000-0000-4000-8000-00000000000b");

    private static AnswerMarker Marker(Guid session, string question, string type = "text") => new(session, "level-1", question, type);

    private static SentAnswer Sent(AnswerMarker marker, int attempts = 1, int cuts = 0, bool acknowledged = true) =>
        new(marker, Guid.NewGuid().ToString("D"), attempts, cuts, acknowledged);

    private static StoredAnswer Row(AnswerMarker marker) => new(marker, Guid.NewGuid());

    [Fact]
    public void Answers_stored_once_each_pass_with_what_was_sent_retried_and_stored()
    {
        var (q1, q2, voice) = (Marker(SessionA, "q1"), Marker(SessionA, "q2"), Marker(SessionA, "q1", "voice"));
        var r = AnswerChecks.ExactlyOnce(
            [Sent(q1), Sent(q2, attempts: 3, cuts: 2), Sent(voice, attempts: 2, cuts: 1)],
            [SessionA],
            [Row(q1), Row(q2), Row(voice), Row(Marker(SessionB, "q1"))]); // another run's session is not this run's
        Assert.Equal(CheckOutcome.Passed, r.Outcome);
        Assert.Equal(CheckNames.AnswersExactlyOnce, r.Name);
        Assert.Contains("3 answers sent (3 acknowledged), 2 retried (3 attempts cut by --flaky), 3 stored", r.Detail,
            StringComparison.Ordinal);
    }

    [Fact]
    public void A_retried_answer_stored_twice_fails_and_is_named()
    {
        var q1 = Marker(SessionA, "q1");
        var r = AnswerChecks.ExactlyOnce([Sent(q1, attempts: 2, cuts: 1), Sent(Marker(SessionA, "q2"))], [SessionA],
            [Row(q1), Row(q1), Row(Marker(SessionA, "q2"))]);
        Assert.Equal(CheckOutcome.Failed, r.Outcome);
        Assert.Contains("1 extra copies", r.Detail, StringComparison.Ordinal);
        Assert.Contains($"session {SessionA} level level-1 question q1 (text): stored twice, sent once", r.Detail,
            StringComparison.Ordinal);
    }

    [Fact]
    public void An_acknowledged_answer_missing_from_the_database_fails()
    {
        var r = AnswerChecks.ExactlyOnce([Sent(Marker(SessionA, "q1")), Sent(Marker(SessionA, "q2"))], [SessionA],
            [Row(Marker(SessionA, "q1"))]);
        Assert.Equal(CheckOutcome.Failed, r.Outcome);
        Assert.Contains("1 acknowledged but not stored", r.Detail, StringComparison.Ordinal);
        Assert.Contains("question q2 (text): acknowledged once, stored never", r.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void An_answer_never_acknowledged_may_be_stored_once_or_not_at_all_but_not_twice()
    {
        var lost = Marker(SessionA, "q1");
        var unacknowledged = Sent(lost, attempts: 8, cuts: 8, acknowledged: false);
        Assert.Equal(CheckOutcome.Passed, AnswerChecks.ExactlyOnce([unacknowledged], [SessionA], []).Outcome);
        Assert.Equal(CheckOutcome.Passed, AnswerChecks.ExactlyOnce([unacknowledged], [SessionA], [Row(lost)]).Outcome);
        Assert.Equal(CheckOutcome.Failed, AnswerChecks.ExactlyOnce([unacknowledged], [SessionA], [Row(lost), Row(lost)]).Outcome);
    }

    [Fact]
    public void A_stored_answer_the_run_never_sent_fails()
    {
        var r = AnswerChecks.ExactlyOnce([Sent(Marker(SessionA, "q1"))], [SessionA],
            [Row(Marker(SessionA, "q1")), Row(Marker(SessionA, "q9"))]);
        Assert.Equal(CheckOutcome.Failed, r.Outcome);
        Assert.Contains("question q9 (text): stored once, never sent", r.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void One_key_sent_with_two_answers_fails()
    {
        var (q1, q2) = (Marker(SessionA, "q1"), Marker(SessionA, "q2"));
        const string key = "same-key-0123456789";
        var r = AnswerChecks.ExactlyOnce([new SentAnswer(q1, key, 1, 0, true), new SentAnswer(q2, key, 1, 0, true)], [SessionA],
            [Row(q1), Row(q2)]);
        Assert.Equal(CheckOutcome.Failed, r.Outcome);
        Assert.Contains("1 Idempotency-Keys sent with more than one answer", r.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void No_answer_sent_is_not_a_pass() =>
        Assert.Equal(CheckOutcome.Failed, AnswerChecks.ExactlyOnce([], [SessionA], []).Outcome);

    [Fact]
    public void Export_lines_are_read_as_stored_answers_and_sessions_without_one_are_skipped()
    {
        // The export's JSON Lines, as GET /api/admin/export?format=jsonl writes them.
        var answer = AdminClient.ParseExportLine($$"""
            {"visitorNumber":7,"mode":"live","condition":"control","sessionId":"{{SessionA}}","userId":"{{SessionB}}",
             "responseId":"0b9e0000-0000-4000-8000-000000000001","levelId":"level-1","questionId":"q2","responseType":"voice",
             "text":null,"fileObjectName":"x","fileSizeBytes":10,"fileMd5":"m","createdAt":"2026-12-06T14:00:00Z"}
            """.ReplaceLineEndings(""));
        Assert.Equal(new StoredAnswer(Marker(SessionA, "q2", "voice"), Guid.Parse("0b9e0000-0000-4000-8000-000000000001")), answer);
        Assert.Null(AdminClient.ParseExportLine($$"""
            {"visitorNumber":8,"mode":"live","condition":null,"sessionId":"{{SessionA}}","userId":"{{SessionB}}","responseId":null,
             "levelId":null,"questionId":null,"responseType":null}
            """.ReplaceLineEndings("")));
        Assert.Null(AdminClient.ParseExportLine(""));
    }
}
