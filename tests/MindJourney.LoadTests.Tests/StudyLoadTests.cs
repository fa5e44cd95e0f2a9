using System.Net;
using System.Net.Http.Json;
using MindJourney.LoadTests.Checks;
using MindJourney.LoadTests.Cli;
using MindJourney.LoadTests.Options;
using MindJourney.LoadTests.Reports;
using MindJourney.LoadTests.Runner;
using MindJourney.LoadTests.Scenarios;
using MindJourney.Testing;

namespace MindJourney.LoadTests.Tests;

/// <summary>The harness in one study (<c>--study</c>) on the real API and PostgreSQL: its people are numbered 1..cap
/// in the study and no further; with <c>--expect-full</c> the Plays past the cap are expected refusals, counted and
/// reported apart, and a check proves exactly min(cap - already, tried) were numbered. Without it they are errors.</summary>
public sealed class StudyLoadTests(PostgresServer postgres) : IClassFixture<PostgresServer>
{
    private const string AdminKey = "load-test-admin-key-7f20-c3d9a15e48b62e";

    [Fact]
    public async Task Two_hundred_plays_in_a_study_capped_at_fifty_number_fifty_and_the_rest_are_expected_refusals()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?> { ["Admin:ApiKey"] = AdminKey });
        await CreateStudyAsync(api, "capped-fifty", maxParticipants: 50);

        var result = await LoadTestRunner.RunAsync(Options(api, "capped-fifty", users: 20, iterations: 10) with { ExpectFull = true });

        Assert.Null(result.FatalError);
        Assert.All(result.Checks.Where(c => c.Outcome != CheckOutcome.Skipped),
            check => Assert.True(check.Outcome == CheckOutcome.Passed, $"{check.Name}: {check.Outcome} {check.Detail}"));
        Assert.True(result.Passed, string.Join("\n", result.Checks.Concat<object>(result.Thresholds)));
        Assert.Equal((50, 150, 0), (result.Totals.SessionsCreated, result.Totals.Refused, result.Totals.Failed));
        Assert.Equal(0, result.Totals.ErrorRate);
        Assert.Equal(Enumerable.Range(1, 50), result.StudyNumbers);
        var step = Assert.Single(result.Steps, s => s.Name == StepNames.CreateSession);
        Assert.Equal((50, 150, 0), (step.Ok, step.Refused, step.Failed));
        Assert.Equal(150, step.StatusCodes["409"]);
        Assert.Contains("expected 1..50 (50 people: 0 started before, 50 after), run got 50",
            Check(result, CheckNames.StudyNumbersContiguous).Detail, StringComparison.Ordinal);
        Assert.Contains("cap 50, 0 already started: 200 tried, 50 numbered, 150 refused as full; expected 50 numbered and 150 refused",
            Check(result, CheckNames.StudyFullExactly).Detail, StringComparison.Ordinal);
        Assert.Equal(CheckOutcome.Passed, Check(result, CheckNames.VisitorNumbersContiguous).Outcome);
        Assert.Equal(CheckOutcome.Passed, Check(result, CheckNames.AuditClean).Outcome);
        Assert.Contains("Refused: 150 Plays refused because the study is full (409 /problems/study-full)", MarkdownReport.Render(result),
            StringComparison.Ordinal);
        Assert.Contains("study capped-fifty (expected to fill: --expect-full)", ReportText.Setup(result), StringComparison.Ordinal);

        // What the harness saw is what the database holds: the refusals drew no number.
        Assert.Equal(50, await api.SequencePositionAsync());
        Assert.Equal(50, await api.ScalarAsync<long>("SELECT max(study_participant_number) FROM experiment_sessions"));
    }

    [Fact]
    public async Task Without_expect_full_a_full_study_s_refusals_are_errors_and_the_study_numbers_still_follow_on()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?> { ["Admin:ApiKey"] = AdminKey });
        var study = await CreateStudyAsync(api, "ten-seats", maxParticipants: 10);
        for (var i = 0; i < 2; i++)
        {
            using var play = await api.Client.PostAsJsonAsync("/api/session", new { experimentId = study });
            Assert.Equal(HttpStatusCode.Created, play.StatusCode);
        }

        var result = await LoadTestRunner.RunAsync(Options(api, "ten-seats", users: 5, iterations: 6));

        Assert.False(result.Passed);
        Assert.Equal((8, 0, 22), (result.Totals.SessionsCreated, result.Totals.Refused, result.Totals.Failed));
        Assert.False(Assert.Single(result.Thresholds).Passed); // max_error_rate 0
        Assert.Equal(Enumerable.Range(3, 8), result.StudyNumbers);
        var contiguous = Check(result, CheckNames.StudyNumbersContiguous);
        Assert.True(contiguous.Outcome == CheckOutcome.Passed, contiguous.Detail);
        Assert.Contains("expected 3..10 (8 people: 2 started before, 10 after), run got 8", contiguous.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(result.Checks, c => c.Name == CheckNames.StudyFullExactly);
        Assert.DoesNotContain("Refused:", MarkdownReport.Render(result), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_study_that_does_not_exist_stops_the_run_before_any_load_and_one_not_open_says_why()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?> { ["Admin:ApiKey"] = AdminKey });
        await CreateStudyAsync(api, "still-a-draft", maxParticipants: null, status: "draft");

        var missing = await LoadTestRunner.RunAsync(Options(api, "nope", users: 2, iterations: 2) with { ExpectFull = true });
        var draft = await LoadTestRunner.RunAsync(Options(api, "still-a-draft", users: 2, iterations: 2));

        Assert.StartsWith("study 'nope' does not exist (GET ", missing.FatalError, StringComparison.Ordinal);
        Assert.EndsWith("/api/experiment?study=nope answered 404 Not Found); check --study", missing.FatalError, StringComparison.Ordinal);
        Assert.Contains("study 'still-a-draft' cannot be played (", draft.FatalError, StringComparison.Ordinal);
        Assert.Contains("answered 409 Conflict: Study 'still-a-draft' is not open to participants yet.)", draft.FatalError,
            StringComparison.Ordinal);
        Assert.All(new[] { missing, draft }, r => Assert.Equal((false, 0), (r.Passed, r.Totals.Requests)));
        Assert.Equal(CheckOutcome.Skipped, Check(missing, CheckNames.StudyFullExactly).Outcome);
        Assert.Equal(0, await api.SequencePositionAsync());
    }

    [Fact]
    public void Expect_full_needs_a_study_and_a_study_is_named_by_its_slug()
    {
        var resolved = CliApp.ResolveOptions(["--study", "memory-mood", "--expect-full"], new Dictionary<string, string?>());
        Assert.True(resolved.IsValid, string.Join(" | ", resolved.Errors));
        Assert.Equal(("memory-mood", true), (resolved.Options!.Study, resolved.Options.ExpectFull));

        Assert.Equal(["--expect-full needs --study: the study whose cap the run is expected to fill."],
            CliApp.ResolveOptions(["--expect-full"], new Dictionary<string, string?>()).Errors);
        Assert.Contains("--study must be a study's slug",
            Assert.Single(CliApp.ResolveOptions(["--study", "Memory Mood"], new Dictionary<string, string?>()).Errors),
            StringComparison.Ordinal);
    }

    private static LoadTestOptions Options(TestApi api, string study, int users, int iterations) => new()
    {
        ApiUrl = new Uri(api.Hosts[0].ServerAddress, "/api"),
        Users = users,
        Iterations = iterations,
        Scenario = ScenarioKind.Session,
        AdminKey = AdminKey,
        Study = study,
        Quiet = true,
        MaxErrorRate = 0,
    };

    private static CheckResult Check(LoadTestResult result, string name) => Assert.Single(result.Checks, c => c.Name == name);

    /// <summary>A study with one one-question level, created through the admin API; its id.</summary>
    private static async Task<Guid> CreateStudyAsync(TestApi api, string slug, int? maxParticipants, string status = "open")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/admin/experiments")
        {
            Content = JsonContent.Create(new
            {
                title = "Load in one study",
                slug,
                status,
                maxParticipants,
                conditions = new[] { "control", "treatment" },
                levels = new[]
                {
                    new { title = "Level 1", questions = new[] { new { id = "q1", type = "text", prompt = "How are you?" } } },
                },
            }),
        };
        request.Headers.Add("X-Admin-Key", AdminKey);
        using var response = await api.Client.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").GetGuid();
    }
}
