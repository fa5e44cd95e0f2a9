using MindJourney.LoadTests.Checks;
using MindJourney.LoadTests.Options;
using MindJourney.LoadTests.Runner;
using MindJourney.Testing;

namespace MindJourney.LoadTests.Tests;

/// <summary>The concurrency run in CI: the harness drives the real API (real Kestrel, real PostgreSQL) with 50
/// users for a bounded time, and every domain check must pass.</summary>
public sealed class RealApiLoadTests(PostgresServer postgres) : IClassFixture<PostgresServer>
{
    private const string AdminKey = "load-test-admin-key-31c4-a9e2076bd5f18c";

    [Fact]
    public async Task Fifty_users_playing_for_five_seconds_get_unique_contiguous_numbers_and_a_clean_audit()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?> { ["Admin:ApiKey"] = AdminKey });
        var options = new LoadTestOptions
        {
            ApiUrl = new Uri(api.Hosts[0].ServerAddress, "/api"),
            Users = 50,
            Duration = TimeSpan.FromSeconds(5),
            Scenario = ScenarioKind.Session,
            AdminKey = AdminKey,
            Quiet = true,
            MaxErrorRate = 0,
        };

        var result = await LoadTestRunner.RunAsync(options);

        Assert.Null(result.FatalError);
        foreach (var name in new[] { "visitor_numbers_unique", "visitor_numbers_contiguous", "audit_clean" })
        {
            var check = Assert.Single(result.Checks, c => c.Name == name);
            Assert.True(check.Outcome == CheckOutcome.Passed, $"{check.Name}: {check.Outcome} {check.Detail}");
        }

        // The Play-only scenario stores no responses or files; those checks say so rather than pass.
        Assert.All(result.Checks.Where(c => c.Outcome != CheckOutcome.Passed), c => Assert.Equal(CheckOutcome.Skipped, c.Outcome));
        Assert.True(result.Passed);
        Assert.True(result.VisitorNumbers.Count >= 50, $"only {result.VisitorNumbers.Count} sessions in 5 s");
        // What the harness saw is what the database holds.
        Assert.Equal(result.VisitorNumbers.Count, await api.ScalarAsync<long>("SELECT count(*) FROM users"));
        Assert.Equal(result.VisitorNumbers.Max(), await api.SequencePositionAsync());
    }

    [Fact]
    public async Task Ten_participants_on_the_whole_journey_keep_one_number_through_responses_and_uploads()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?> { ["Admin:ApiKey"] = AdminKey },
            storage: storage);
        var options = new LoadTestOptions
        {
            ApiUrl = new Uri(api.Hosts[0].ServerAddress, "/api"),
            Users = 10,
            Duration = TimeSpan.FromSeconds(5),
            Scenario = ScenarioKind.Journey,
            AdminKey = AdminKey,
            Quiet = true,
            MaxErrorRate = 0,
        };

        var result = await LoadTestRunner.RunAsync(options);

        Assert.Null(result.FatalError);
        Assert.All(result.Checks,
            check => Assert.True(check.Outcome == CheckOutcome.Passed, $"{check.Name}: {check.Outcome} {check.Detail}"));
        Assert.True(result.Passed);
        Assert.True(result.Totals.IterationsOk >= 10, $"only {result.Totals.IterationsOk} journeys finished");
        // The answers the check read back are the rows the database holds.
        Assert.Contains($"{await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses")} stored",
            Assert.Single(result.Checks, c => c.Name == CheckNames.AnswersExactlyOnce).Detail, StringComparison.Ordinal);
        // Every uploaded object in storage carries the visitor number of its response's session.
        var objects = await storage.ListAsync("experiment-responses/");
        Assert.NotEmpty(objects);
        Assert.Equal(await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses WHERE storage_status = 'stored'"),
            objects.Count);
        foreach (var stored in objects)
        {
            var expected = await api.ScalarAsync<int>(
                "SELECT visitor_number FROM experiment_responses " +
                $"WHERE file_id = '{stored.Name.Replace("'", "''", StringComparison.Ordinal)}'");
            Assert.Equal(expected.ToString(System.Globalization.CultureInfo.InvariantCulture), stored.Metadata["visitorNumber"]);
        }
    }

    /// <summary>
    /// The flaky network against the real API: a fifth of the answers and uploads are cut and retried with their
    /// Idempotency-Key. The check's verdict must be what the database holds, counted here apart from it. Until
    /// POST /api/response honours the key, an answer cut after it was stored is stored again and the check fails, as
    /// it should; once the API records keys (its idempotency_key column filled), every answer must be stored once.
    /// </summary>
    [Fact]
    public async Task A_journey_on_a_flaky_network_is_judged_by_what_the_database_holds()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?> { ["Admin:ApiKey"] = AdminKey },
            storage: storage);
        var options = new LoadTestOptions
        {
            ApiUrl = new Uri(api.Hosts[0].ServerAddress, "/api"),
            Users = 8,
            Duration = TimeSpan.FromSeconds(5),
            Scenario = ScenarioKind.Journey,
            AdminKey = AdminKey,
            Quiet = true,
            Flaky = 20,
        };

        var result = await LoadTestRunner.RunAsync(options);

        Assert.Null(result.FatalError);
        var check = Assert.Single(result.Checks, c => c.Name == CheckNames.AnswersExactlyOnce);
        Assert.Matches(@"answers sent \([0-9]+ acknowledged\), [1-9][0-9]* retried \([1-9][0-9]* attempts cut by --flaky\)", check.Detail);
        Assert.Contains($"{await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses")} stored", check.Detail,
            StringComparison.Ordinal);
        var extraCopies = await api.ScalarAsync<long>("""
            SELECT coalesce(sum(n - 1), 0)::bigint FROM (
                SELECT count(*) AS n FROM experiment_responses GROUP BY session_id, level_id, question_id, response_type) a
            """);
        Assert.Equal(extraCopies == 0 ? CheckOutcome.Passed : CheckOutcome.Failed, check.Outcome);
        Assert.Equal(0, await api.ScalarAsync<long>("""
            SELECT count(*) FROM (SELECT 1 FROM experiment_responses WHERE idempotency_key IS NOT NULL
                                  GROUP BY session_id, idempotency_key HAVING count(*) > 1) k
            """));
        if (await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses WHERE idempotency_key IS NOT NULL") > 0)
        {
            Assert.True(check.Outcome == CheckOutcome.Passed, check.Detail);
        }
    }
}
