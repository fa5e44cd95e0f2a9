using System.Text;
using MindJourney.LoadTests.Checks;

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
}
