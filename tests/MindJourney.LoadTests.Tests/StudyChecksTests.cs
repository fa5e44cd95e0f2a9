using MindJourney.LoadTests.Checks;

namespace MindJourney.LoadTests.Tests;

/// <summary>The study checks fail on what they exist to catch: a study number skipped or given twice, a person
/// numbered past the cap, a refusal that should have been a number; and a study read back as the admin API writes it.</summary>
public sealed class StudyChecksTests
{
    private static readonly StudySnapshot Empty = new("capped", 50, 0);

    [Fact]
    public void Study_numbers_pass_only_when_they_are_exactly_the_people_the_study_counted_in_the_run()
    {
        var following = StudyChecks.Contiguous(Numbers(3, 4, 5), Empty with { Started = 2 }, Empty with { Started = 5 });
        Assert.Equal(CheckOutcome.Passed, following.Outcome);

        var gap = StudyChecks.Contiguous(Numbers(1, 2, 4), Empty, Empty with { Started = 4 });
        Assert.Equal(CheckOutcome.Failed, gap.Outcome);
        Assert.Contains("1 numbered in the study but not handed to the harness", gap.Detail, StringComparison.Ordinal);

        var twice = StudyChecks.Contiguous(Numbers(1, 2, 2), Empty, Empty with { Started = 2 });
        Assert.Equal(CheckOutcome.Failed, twice.Outcome);
        Assert.Contains("1 repeated", twice.Detail, StringComparison.Ordinal);

        var outside = StudyChecks.Contiguous(Numbers(1, 2, 3), Empty with { Started = 1 }, Empty with { Started = 3 });
        Assert.Equal(CheckOutcome.Failed, outside.Outcome);
        Assert.Contains("outside the range: 1", outside.Detail, StringComparison.Ordinal);

        var weaker = StudyChecks.Contiguous(Numbers(7, 9), null, null);
        Assert.Equal(CheckOutcome.Failed, weaker.Outcome);
        Assert.Contains("weaker check (no admin key)", weaker.Detail, StringComparison.Ordinal);
        Assert.Equal(CheckOutcome.Passed, StudyChecks.Contiguous(Numbers(7, 8), null, null).Outcome);
    }

    [Fact]
    public void A_full_study_passes_only_with_exactly_its_room_numbered_and_every_other_try_refused()
    {
        var exact = StudyChecks.FullExactly(45, 155, Empty with { Started = 5 }, Empty with { Started = 50 });
        Assert.Equal(CheckOutcome.Passed, exact.Outcome);
        Assert.Contains("cap 50, 5 already started: 200 tried, 45 numbered, 155 refused as full; expected 45 numbered and 155 refused",
            exact.Detail, StringComparison.Ordinal);

        // One past the cap; one refused while there was room; the study counting someone the harness never saw.
        Assert.Equal(CheckOutcome.Failed, StudyChecks.FullExactly(51, 149, Empty, Empty with { Started = 51 }).Outcome);
        Assert.Equal(CheckOutcome.Failed, StudyChecks.FullExactly(20, 5, Empty, Empty with { Started = 20 }).Outcome);
        Assert.Equal(CheckOutcome.Failed, StudyChecks.FullExactly(50, 150, Empty, Empty with { Started = 51 }).Outcome);

        // Without a cap nobody is refused; without the study read there is nothing to compare with.
        var open = Empty with { MaxParticipants = null };
        Assert.Equal(CheckOutcome.Passed, StudyChecks.FullExactly(30, 0, open, open with { Started = 30 }).Outcome);
        Assert.Equal(CheckOutcome.Skipped, StudyChecks.FullExactly(30, 0, null, null).Outcome);
    }

    [Fact]
    public void A_study_is_read_as_the_admin_api_answers_it()
    {
        var study = StudySnapshot.Parse("""
            {"id":"0b7c1f7e-2a0e-4d35-9d3c-1b1f2f6f9a10","slug":"memory-mood","maxParticipants":200,
             "participants":{"started":12,"completed":3}}
            """u8);
        Assert.Equal(new StudySnapshot("memory-mood", 200, 12), study);
        var open = StudySnapshot.Parse("""{"slug":"open-ended","maxParticipants":null,"participants":{"started":0}}"""u8);
        Assert.Null(open.MaxParticipants);
        Assert.Throws<System.Text.Json.JsonException>(() => StudySnapshot.Parse("""{"slug":"x"}"""u8));
    }

    private static int?[] Numbers(params int[] numbers) => [.. numbers.Select(n => (int?)n)];
}
