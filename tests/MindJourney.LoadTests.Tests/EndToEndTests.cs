using MindJourney.LoadTests.Checks;
using MindJourney.LoadTests.Cli;
using MindJourney.LoadTests.Options;
using MindJourney.LoadTests.Reports;
using MindJourney.LoadTests.Runner;
using MindJourney.LoadTests.Scenarios;
using MindJourney.LoadTests.Tests.TestDoubles;

namespace MindJourney.LoadTests.Tests;

/// <summary>
/// The HTTP engine end to end, over real sockets, against <see cref="TinyVisitorApi"/> (a test double of the HTTP
/// surface). The real API + PostgreSQL run is a separate test.
/// </summary>
public sealed class EndToEndTests
{
    private static CheckResult Check(LoadTestResult r, string name) => Assert.Single(r.Checks, c => c.Name == name);

    [Fact]
    public async Task Closed_model_session_scenario_gets_unique_contiguous_numbers()
    {
        await using var api = await TinyVisitorApi.StartAsync();
        var result = await LoadTestRunner.RunAsync(new LoadTestOptions { ApiUrl = api.ApiUrl, Users = 4, Iterations = 25 });

        Assert.True(result.Passed, string.Join("\n", result.Checks));
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(Enumerable.Range(1, 100), result.VisitorNumbers);
        var step = Assert.Single(result.Steps);
        Assert.Equal(StepNames.CreateSession, step.Name);
        Assert.Equal(100, step.Ok);
        Assert.Equal(0, step.Failed);
        Assert.Equal(100, step.StatusCodes["201"]);
        Assert.Equal(100, step.Latency.Count);
        Assert.True(step.Latency.MinMs > 0 && step.Latency.MaxMs >= step.Latency.At(99));
        Assert.True(step.BytesSent > 0 && step.BytesReceived > 0);
        Assert.Null(step.ServiceTime);
        Assert.Equal(100, result.Totals.SessionsCreated);
        Assert.Equal(100, result.Totals.IterationsOk);
        Assert.Equal(CheckOutcome.Passed, Check(result, CheckNames.VisitorNumbersUnique).Outcome);
        var contiguity = Check(result, CheckNames.VisitorNumbersContiguous);
        Assert.Equal(CheckOutcome.Passed, contiguity.Outcome);
        Assert.Contains("weaker", contiguity.Detail, StringComparison.Ordinal);
        Assert.Equal(CheckOutcome.Skipped, Check(result, CheckNames.AuditClean).Outcome);
        Assert.Equal(CheckOutcome.Skipped, Check(result, CheckNames.ResponsesCarrySessionNumber).Outcome);
        Assert.NotEmpty(result.Series);
        Assert.Equal(100, api.SessionsCreated);
    }

    [Fact]
    public async Task A_duplicate_number_fails_the_run()
    {
        await using var api = await TinyVisitorApi.StartAsync(new TinyVisitorApi.TinyOptions { DuplicateAtSession = 7 });
        var result = await LoadTestRunner.RunAsync(new LoadTestOptions { ApiUrl = api.ApiUrl, Users = 2, Iterations = 10 });

        Assert.False(result.Passed);
        Assert.Equal(1, result.ExitCode);
        var unique = Check(result, CheckNames.VisitorNumbersUnique);
        Assert.Equal(CheckOutcome.Failed, unique.Outcome);
        Assert.Contains("×2", unique.Detail, StringComparison.Ordinal);
        Assert.Equal(CheckOutcome.Failed, Check(result, CheckNames.VisitorNumbersContiguous).Outcome);
    }

    [Fact]
    public async Task With_an_admin_key_a_burned_number_is_caught_against_the_sequence()
    {
        await using var api = await TinyVisitorApi.StartAsync(new TinyVisitorApi.TinyOptions { SequenceStart = 500, GapAtSession = 20 });
        var result = await LoadTestRunner.RunAsync(new LoadTestOptions
        {
            ApiUrl = api.ApiUrl,
            Users = 2,
            Iterations = 10,
            AdminKey = TinyVisitorApi.Key
        });

        Assert.Equal(500, result.AuditBefore!.SequenceLastValue);
        Assert.Equal(521, result.AuditAfter!.SequenceLastValue);
        var contiguity = Check(result, CheckNames.VisitorNumbersContiguous);
        Assert.Equal(CheckOutcome.Failed, contiguity.Outcome);
        Assert.Contains("501..521", contiguity.Detail, StringComparison.Ordinal);
        Assert.Contains("not handed to the harness: 1 (520)", contiguity.Detail, StringComparison.Ordinal);
        Assert.Equal(CheckOutcome.Passed, Check(result, CheckNames.AuditClean).Outcome);
        Assert.False(result.Passed);
    }

    [Fact]
    public async Task Journey_with_admin_key_runs_every_step_and_every_check_passes()
    {
        await using var api = await TinyVisitorApi.StartAsync(new TinyVisitorApi.TinyOptions { SequenceStart = 41 });
        var result = await LoadTestRunner.RunAsync(new LoadTestOptions
        {
            ApiUrl = api.ApiUrl,
            Users = 3,
            Iterations = 4,
            Scenario = ScenarioKind.Journey,
            AdminKey = TinyVisitorApi.Key,
            VerifySample = 5,
        });

        Assert.True(result.Passed,
            string.Join("\n", result.Checks.Concat<object>(result.Steps.Select(s => $"{s.Name} {string.Join(' ', s.StatusCodes)}"))));
        Assert.All(result.Checks, c => Assert.Equal(CheckOutcome.Passed, c.Outcome));
        Assert.Equal(7, result.Checks.Count);
        Assert.Equal(Enumerable.Range(42, 12), result.VisitorNumbers);

        var steps = result.Steps.ToDictionary(s => s.Name);
        Assert.Equal(12, steps[StepNames.GetExperiment].Ok);
        Assert.Equal(12, steps[StepNames.CreateSession].Ok);
        Assert.Equal(12, steps[StepNames.GetLevels].Ok);
        Assert.Equal(12 * 3 * 2, steps[StepNames.PostResponse].Ok); // 3 levels × 2 questions
        Assert.Equal(12, steps[StepNames.Upload].Ok);
        Assert.Equal(12 * 2, steps[StepNames.PatchSession].Ok); // level 2, level 3 + completed
        Assert.True(steps[StepNames.Upload].BytesSent > 12 * VoicePayload.DefaultSize);
        Assert.Equal(12 * 7, api.ResponsesCreated);
        Assert.Contains("5 stored uploads downloaded, 5 byte-identical",
            Check(result, CheckNames.UploadsDownloadMatch).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Flaky_answers_are_retried_with_their_key_and_a_server_that_honours_it_stores_each_once()
    {
        await using var api = await TinyVisitorApi.StartAsync(new TinyVisitorApi.TinyOptions
        {
            HonourAnswerKeys = true,
            ResponseDelay = TimeSpan.FromMilliseconds(10),
        });
        var result = await LoadTestRunner.RunAsync(new LoadTestOptions
        {
            ApiUrl = api.ApiUrl,
            Users = 3,
            Iterations = 4,
            Scenario = ScenarioKind.Journey,
            AdminKey = TinyVisitorApi.Key,
            Flaky = 20,
        });

        var check = Check(result, CheckNames.AnswersExactlyOnce);
        Assert.True(check.Outcome == CheckOutcome.Passed, check.Detail);
        Assert.True(result.Passed, string.Join("\n", result.Checks));
        // 12 journeys of 6 text answers and an upload, each acknowledged once; a fifth of the attempts were cut.
        Assert.Matches(@"^84 answers sent \(84 acknowledged\), [1-9][0-9]* retried \([1-9][0-9]* attempts cut by --flaky\), 84 stored",
            check.Detail);
        Assert.Equal(84, api.ResponsesCreated);
        // A cut attempt is not a failure of the server's: the steps count the answers, once each.
        var steps = result.Steps.ToDictionary(s => s.Name);
        Assert.Equal(72, steps[StepNames.PostResponse].Ok);
        Assert.Equal(0, steps[StepNames.PostResponse].Failed);
    }

    [Fact]
    public async Task Flaky_answers_to_a_server_that_ignores_the_key_are_caught_stored_twice()
    {
        await using var api = await TinyVisitorApi.StartAsync();
        var result = await LoadTestRunner.RunAsync(new LoadTestOptions
        {
            ApiUrl = api.ApiUrl,
            Users = 2,
            Iterations = 3,
            Scenario = ScenarioKind.Journey,
            AdminKey = TinyVisitorApi.Key,
            Flaky = 20,
        });

        var check = Check(result, CheckNames.AnswersExactlyOnce);
        Assert.Equal(CheckOutcome.Failed, check.Outcome);
        Assert.Matches(@"; [1-9][0-9]* extra copies, 0 acknowledged but not stored, 0 stored but never sent: session ", check.Detail);
        Assert.True(api.ResponsesCreated > 6 * 7, $"{api.ResponsesCreated} rows for 42 answers");
        Assert.False(result.Passed);
    }

    [Fact]
    public async Task Journey_without_key_skips_what_needs_one_and_still_passes()
    {
        await using var api = await TinyVisitorApi.StartAsync();
        var result = await LoadTestRunner.RunAsync(new LoadTestOptions
        {
            ApiUrl = api.ApiUrl,
            Users = 2,
            Iterations = 2,
            Scenario = ScenarioKind.Journey
        });

        Assert.True(result.Passed);
        Assert.Equal(CheckOutcome.Skipped, Check(result, CheckNames.AuditClean).Outcome);
        Assert.Equal(CheckOutcome.Skipped, Check(result, CheckNames.UploadsDownloadMatch).Outcome);
        Assert.Equal(CheckOutcome.Skipped, Check(result, CheckNames.AnswersExactlyOnce).Outcome);
        Assert.Equal(CheckOutcome.Passed, Check(result, CheckNames.UploadsStored).Outcome);
        Assert.Equal(CheckOutcome.Passed, Check(result, CheckNames.ResponsesCarrySessionNumber).Outcome);
    }

    [Fact]
    public async Task A_response_with_another_number_than_its_session_fails_check_3()
    {
        await using var api = await TinyVisitorApi.StartAsync(new TinyVisitorApi.TinyOptions { WrongResponseNumber = 999 });
        var result = await LoadTestRunner.RunAsync(new LoadTestOptions
        {
            ApiUrl = api.ApiUrl,
            Users = 1,
            Iterations = 1,
            Scenario = ScenarioKind.Journey
        });

        var check = Check(result, CheckNames.ResponsesCarrySessionNumber);
        Assert.Equal(CheckOutcome.Failed, check.Outcome);
        Assert.Contains("999", check.Detail, StringComparison.Ordinal);
        Assert.False(result.Passed);
    }

    [Fact]
    public async Task Open_model_keeps_its_timetable_and_reports_service_time_apart()
    {
        await using var api = await TinyVisitorApi.StartAsync();
        var result = await LoadTestRunner.RunAsync(new LoadTestOptions
        {
            ApiUrl = api.ApiUrl,
            Rate = 100,
            Duration = TimeSpan.FromSeconds(1.5)
        });

        Assert.True(result.Passed, string.Join("\n", result.Checks));
        Assert.Equal(LoadModel.Open, result.Model);
        Assert.InRange(result.Totals.SessionsCreated, 120, 150); // 150 scheduled in 1.5 s; slack for a busy CI machine
        Assert.Equal(0, result.Totals.Dropped);
        var step = Assert.Single(result.Steps);
        Assert.NotNull(step.ServiceTime);
        Assert.True(step.Latency.MaxMs >= step.ServiceTime!.MaxMs);
    }

    [Fact]
    public async Task A_warm_up_is_offered_first_and_left_out_of_the_figures_and_the_checks()
    {
        await using var api = await TinyVisitorApi.StartAsync();
        var result = await LoadTestRunner.RunAsync(new LoadTestOptions
        {
            ApiUrl = api.ApiUrl,
            AdminKey = TinyVisitorApi.Key,
            Rate = 100,
            WarmUp = TimeSpan.FromSeconds(1),
            Duration = TimeSpan.FromSeconds(1)
        });

        Assert.True(result.Passed, string.Join("\n", result.Checks));
        // The server saw both phases; the figures hold the measured one alone.
        Assert.InRange(result.Totals.SessionsCreated, 80, 100);
        Assert.Equal(result.Totals.SessionsCreated, result.VisitorNumbers.Count);
        Assert.InRange(api.SessionsCreated - result.Totals.SessionsCreated, 80, 100);
        // The numbers are checked from the audit taken after the warm-up: contiguous from there, none of the warm-up's.
        var contiguity = Assert.Single(result.Checks, c => c.Name == "visitor_numbers_contiguous");
        Assert.Equal(CheckOutcome.Passed, contiguity.Outcome);
        Assert.True(result.VisitorNumbers.Min() > api.SessionsCreated - result.Totals.SessionsCreated);
    }

    [Fact]
    public async Task Open_model_against_a_slow_server_drops_beyond_the_cap_and_shows_the_wait()
    {
        await using var api = await TinyVisitorApi.StartAsync(
            new TinyVisitorApi.TinyOptions { SessionDelay = TimeSpan.FromMilliseconds(400) });
        var result = await LoadTestRunner.RunAsync(new LoadTestOptions
        {
            ApiUrl = api.ApiUrl,
            Users = 1,
            Rate = 50,
            MaxInFlight = 4,
            Duration = TimeSpan.FromSeconds(1),
            MaxErrorRate = 0.05,
        });

        Assert.True(result.Totals.Dropped > 20, $"dropped {result.Totals.Dropped}");
        Assert.True(result.Steps[0].Latency.At(50) >= 400);
        var threshold = Assert.Single(result.Thresholds);
        Assert.False(threshold.Passed);
        Assert.False(result.Passed);
    }

    [Fact]
    public async Task The_runner_refuses_a_remote_host()
    {
        await Assert.ThrowsAsync<ArgumentException>(() =>
            LoadTestRunner.RunAsync(new LoadTestOptions { ApiUrl = new Uri("http://198.51.100.7/api"), Iterations = 1 }));
    }

    [Fact]
    public async Task A_missing_api_fails_with_a_clear_reason()
    {
        var result = await LoadTestRunner.RunAsync(new LoadTestOptions
        {
            ApiUrl = new Uri("http://127.0.0.1:9/api"),
            Iterations = 1,
            RequestTimeout = TimeSpan.FromSeconds(5)
        });
        Assert.False(result.Passed);
        Assert.Contains("/experiment", result.FatalError, StringComparison.Ordinal);
        Assert.All(result.Checks, c => Assert.Equal(CheckOutcome.Skipped, c.Outcome));
    }

    [Fact]
    public async Task Cli_runs_writes_reports_never_prints_the_key_and_exits_by_outcome()
    {
        await using var api = await TinyVisitorApi.StartAsync();
        var dir = Path.Combine(Path.GetTempPath(), "mj-cli-" + Guid.NewGuid().ToString("N"));
        try
        {
            var output = new StringWriter();
            var env = new CliEnvironment(new Dictionary<string, string?>
            {
                ["API_URL"] = api.ApiUrl.ToString(),
                ["ADMIN_API_KEY"] = TinyVisitorApi.Key
            }, output, new StringWriter(), Interactive: false);

            var code = await CliApp.RunAsync(["--users", "2", "--iterations", "5", "--report-dir", dir,
                "--percentiles", "50,90,99.99"], env);
            var text = output.ToString();
            Assert.Equal(0, code);
            Assert.Contains("PASSED", text, StringComparison.Ordinal);
            Assert.Contains("p99.99", text, StringComparison.Ordinal);
            Assert.Contains("PASS visitor_numbers_contiguous", text, StringComparison.Ordinal);
            Assert.DoesNotContain(TinyVisitorApi.Key, text, StringComparison.Ordinal);
            foreach (var file in Directory.GetFiles(dir))
            {
                Assert.DoesNotContain(TinyVisitorApi.Key, await File.ReadAllTextAsync(file), StringComparison.Ordinal);
            }

            var json = ReportJson.Deserialize(await File.ReadAllTextAsync(Path.Combine(dir, ReportWriter.JsonFile)));
            Assert.Equal(10, json.Totals.SessionsCreated);
            Assert.True(json.AdminKeyProvided);

            var failing = await CliApp.RunAsync(["--users", "1", "--iterations", "3", "--report-dir", dir,
                "--max-p99-ms", "0.001", "--quiet"], env);
            Assert.Equal(1, failing);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Cli_with_redirected_output_writes_a_progress_line_every_5_seconds_and_the_report_folder()
    {
        await using var api = await TinyVisitorApi.StartAsync();
        var dir = Path.Combine(Path.GetTempPath(), "mj-cli-" + Guid.NewGuid().ToString("N"));
        try
        {
            var output = new StringWriter();
            var env = new CliEnvironment(new Dictionary<string, string?> { ["API_URL"] = api.ApiUrl.ToString() },
                output, new StringWriter(), Interactive: false);
            var quiet = new StringWriter();

            var code = await CliApp.RunAsync(["--users", "2", "--duration", "8s", "--report-dir", dir], env);
            await CliApp.RunAsync(["--users", "1", "--iterations", "3", "--report-dir", dir, "--quiet"], env with { Out = quiet });

            Assert.Equal(0, code);
            var progress = output.ToString().Split('\n').Where(l => l.StartsWith("progress ", StringComparison.Ordinal)).ToList();
            Assert.Matches(@"^progress 00:0[5-7] req [1-9][0-9,]* rps [0-9.]+ err 0 drop 0 p99 [0-9.]+ms", progress[0]);
            Assert.Equal(2, progress.Count);
            // The last line comes when the 8 s load phase ends; its clock shows whole seconds, so 7.9 s reads 00:07.
            Assert.Matches(@"^progress 00:(0[7-9]|1[0-9]) req ", progress[1]);
            Assert.Contains($"Reports: {dir}", output.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain("progress ", quiet.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }
}
