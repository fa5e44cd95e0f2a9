using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using MindJourney.Api.Sessions;
using MindJourney.Api.Telemetry;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>Conditions assigned from the visitor number: cycle, latin-square and least-filled, kept by a returning
/// person and a replay, given to a fallback session by the recovery, and counted by the audit.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ConditionTests(PostgresServer postgres)
{
    [Fact]
    public async Task A_thousand_concurrent_plays_under_cycle_fill_the_conditions_within_one_of_each_other()
    {
        await using var api = await TestApi.StartAsync(postgres, instances: 2, settings: AdminTests.WithAdminKey);
        string[] conditions = ["red", "green", "blue"];
        await DeclareAsync(api, "cycle", conditions);

        var answers = await PlayConcurrentlyAsync(api, 1000);
        var sessions = answers.Select(a => a.As<StartedSession>()).ToList();

        var counts = sessions.GroupBy(s => s.Condition!).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(conditions.Order(), counts.Keys.Order());
        Assert.True(counts.Values.Max() - counts.Values.Min() <= 1, string.Join(", ", counts));
        // Reproducible from the number alone.
        Assert.All(sessions, s => Assert.Equal(conditions[(s.VisitorNumber!.Value - 1) % 3], s.Condition));
        // The shape itself: a scheme without orders leaves the field out, not null.
        Assert.All(answers, a => Assert.False(a.TryGetProperty("conditionOrder", out _)));

        var audit = await ApiCalls.AuditAsync(api.Client);
        var balance = audit.Conditions.ToDictionary(c => c.Condition, c => c.Started);
        Assert.Equal(counts.ToDictionary(c => c.Key, c => (long)c.Value), balance);
    }

    [Fact]
    public async Task Concurrent_plays_under_least_filled_never_both_take_the_same_count()
    {
        const int plays = 12; // fewer than the API's connections, so all reach the database at once
        await using var api = await TestApi.StartAsync(postgres);
        await DeclareAsync(api, "least-filled", ["a", "b", "c"]);
        var experimentId = await api.ActiveExperimentIdAsync();
        for (var i = 0; i < 3; i++)
        {
            await ApiCalls.StartSessionAsync(api.Client, new { experimentId }); // a, b, c: the tallies exist
        }

        // Slow every start down at its tally (a held row lock) so that all of them are deciding at the same time:
        // they must still decide one after another, each on the counts the one before it left.
        await using var holder = new Npgsql.NpgsqlConnection(api.ConnectionString);
        await holder.OpenAsync();
        await using var transaction = await holder.BeginTransactionAsync();
        await using (var hold = new Npgsql.NpgsqlCommand("SELECT 1 FROM condition_tallies FOR UPDATE", holder, transaction))
        {
            await hold.ExecuteNonQueryAsync();
        }

        var started = Enumerable.Range(0, plays)
            .Select(_ => ApiCalls.StartSessionAsync(api.Client, new { experimentId })).ToList();
        var waiting = Stopwatch.StartNew();
        const string Waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";
        while (await api.ScalarAsync<long>(Waiting) < plays)
        {
            Assert.True(waiting.Elapsed < TimeSpan.FromSeconds(60), "The plays never all reached the database.");
            await Task.Delay(50);
        }

        await transaction.CommitAsync();
        var sessions = await Task.WhenAll(started);

        var counts = sessions.GroupBy(s => s.Condition!).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<string, int> { ["a"] = 4, ["b"] = 4, ["c"] = 4 }, counts);
        Assert.Equal(plays + 3, await api.ScalarAsync<long>("SELECT sum(started) FROM condition_tallies WHERE mode = 'live'"));
    }

    [Fact]
    public async Task Under_least_filled_with_completions_no_condition_leads_another_by_more_than_the_sessions_in_flight()
    {
        const int workers = 12;
        const int perWorker = 20;
        await using var api = await TestApi.StartAsync(postgres, instances: 2, settings: AdminTests.WithAdminKey);
        await DeclareAsync(api, "least-filled", ["a", "b", "c"]);
        var experimentId = await api.ActiveExperimentIdAsync();

        // At most `workers` sessions are in flight (started, not completed) at any time; some finish fast, some
        // slow, so the completed counts drift apart as far as the scheme lets them.
        await Task.WhenAll(Enumerable.Range(0, workers).Select(async w =>
        {
            var client = api.Hosts[w % 2].CreateClient();
            for (var i = 0; i < perWorker; i++)
            {
                var session = await ApiCalls.StartSessionAsync(client, new { experimentId });
                if (session.Condition == "a")
                {
                    await Task.Delay(20); // one condition's participants take longer
                }

                var done = await client.PatchAsJsonAsync($"/api/session/{session.Id}",
                    new { currentLevel = LastLevel, isCompleted = true }, session.SessionSecret!);
                Assert.Equal(HttpStatusCode.OK, done.StatusCode);
            }
        }));

        var balance = (await ApiCalls.AuditAsync(api.Client)).Conditions;
        var completed = balance.Select(c => c.Completed).ToList();
        Assert.Equal(workers * perWorker, completed.Sum());
        Assert.True(completed.Max() - completed.Min() <= workers, string.Join(", ", completed));
        // The tallies the scheme decided on agree with the sessions themselves.
        foreach (var condition in balance)
        {
            var name = condition.Condition;
            Assert.Equal(condition.Started,
                await api.ScalarAsync<long>($"SELECT started FROM condition_tallies WHERE mode = 'live' AND condition = '{name}'"));
            Assert.Equal(condition.Completed,
                await api.ScalarAsync<long>($"SELECT completed FROM condition_tallies WHERE mode = 'live' AND condition = '{name}'"));
        }
    }

    [Fact]
    public async Task Least_filled_takes_the_fewest_completed_then_the_fewest_started_then_the_declared_order()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        await DeclareAsync(api, "least-filled", ["a", "b", "c"]);
        var experimentId = await api.ActiveExperimentIdAsync();

        var sessions = new List<StartedSession>();
        async Task PlayAsync(int times)
        {
            for (var i = 0; i < times; i++)
            {
                sessions.Add(await ApiCalls.StartSessionAsync(api.Client, new { experimentId }));
            }
        }

        await PlayAsync(5); // nothing completed: fewest started, then declared order: a b c a b
        await CompleteAsync(api.Client, sessions[0], true);
        await CompleteAsync(api.Client, sessions[1], true);
        await CompleteAsync(api.Client, sessions[1], true); // completed once, counted once
        await PlayAsync(2); // c has the fewest completed (0), though soon the most started: c c
        await CompleteAsync(api.Client, sessions[2], true);
        await CompleteAsync(api.Client, sessions[5], true);
        await PlayAsync(1); // completed a1 b1 c2, started a2 b2 c3: declared order decides: a

        Assert.Equal(["a", "b", "c", "a", "b", "c", "c", "a"], sessions.Select(s => s.Condition));
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT completed FROM condition_tallies WHERE condition = 'b'"));

        // Taken back by a researcher (a participant may not): the tally follows.
        using (var reopen = new HttpRequestMessage(HttpMethod.Patch, $"/api/session/{sessions[1].Id}"))
        {
            reopen.Headers.Add("X-Admin-Key", AdminTests.AdminKey);
            reopen.Content = JsonContent.Create(new { isCompleted = false });
            using var reopened = await api.Client.SendAsync(reopen);
            Assert.Equal(HttpStatusCode.OK, reopened.StatusCode);
        }

        Assert.Equal(0, await api.ScalarAsync<long>("SELECT completed FROM condition_tallies WHERE condition = 'b'"));
    }

    [Fact]
    public async Task Latin_square_orders_form_balanced_squares_for_odd_and_even_numbers_of_conditions()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var experimentId = await api.ActiveExperimentIdAsync();

        // Three conditions: 6 rows (each row and its mirror); numbers 1..6 are one full cycle.
        await DeclareAsync(api, "latin-square", ["a", "b", "c"]);
        var odd = new List<StartedSession>();
        for (var i = 0; i < 6; i++)
        {
            odd.Add(await ApiCalls.StartSessionAsync(api.Client, new { experimentId }));
        }

        AssertBalanced(odd, ["a", "b", "c"], timesFirst: 2, timesEachPair: 2);

        // Four conditions: 4 rows; numbers 7..10 are rows 3, 4, 1, 2, again one full cycle.
        await DeclareAsync(api, "latin-square", ["a", "b", "c", "d"]);
        var even = new List<StartedSession>();
        for (var i = 0; i < 4; i++)
        {
            even.Add(await ApiCalls.StartSessionAsync(api.Client, new { experimentId }));
        }

        AssertBalanced(even, ["a", "b", "c", "d"], timesFirst: 1, timesEachPair: 1);

        // The session reads back with its order.
        var read = await api.Client.GetFromJsonAsync<SessionDetails>($"/api/session/{even[0].Id}", even[0].SessionSecret!);
        Assert.Equal(Order(even[0]), Order(read));
        Assert.Equal(even[0].Condition, read.Condition);
    }

    [Fact]
    public async Task A_returning_person_and_a_replay_keep_their_condition_and_a_replay_counts_nothing()
    {
        await using var api = await TestApi.StartAsync(postgres);
        await DeclareAsync(api, "least-filled", ["control", "treatment"]);
        var experimentId = await api.ActiveExperimentIdAsync();
        var key = Guid.NewGuid().ToString();

        var first = await ApiCalls.StartSessionAsync(api.Client, new { experimentId }, key);
        var replay = await ApiCalls.StartSessionAsync(api.Client, new { experimentId }, key);
        Assert.Equal("control", first.Condition);
        Assert.Equal("control", replay.Condition);
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT sum(started) FROM condition_tallies"));

        // The researcher renames the conditions: the person who already has one keeps it.
        await DeclareAsync(api, "cycle", ["x", "y"]);
        var userId = first.UserId;
        var again = await ApiCalls.StartSessionAsync(api.Client, new { experimentId, userId }, secret: first.SessionSecret);
        var newcomer = await ApiCalls.StartSessionAsync(api.Client, new { experimentId });

        Assert.Equal("control", again.Condition);
        Assert.Equal(1, again.VisitorNumber);
        Assert.Equal("y", newcomer.Condition); // number 2 under cycle
        Assert.Equal(2, await api.SequencePositionAsync());
    }

    [Fact]
    public async Task An_experiment_without_conditions_gives_none()
    {
        await using var api = await TestApi.StartAsync(postgres);
        await DeclareAsync(api, "cycle", []);
        var experimentId = await api.ActiveExperimentIdAsync();

        var session = await ApiCalls.StartSessionAsync(api.Client, new { experimentId });

        Assert.Null(session.Condition);
        Assert.Equal(1, session.VisitorNumber);
    }

    [Fact]
    public async Task The_assignment_span_and_counter_carry_the_condition_and_the_mode()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var experimentId = await api.ActiveExperimentIdAsync();
        var host = api.Hosts[0];
        using var assignments = new MetricCollector<long>(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            VisitorNumberingTelemetry.SourceName, "mindjourney.visitor_number.assignments");
        using var spans = new SpanRecorder(VisitorNumberingTelemetry.SourceName);

        var session = await ApiCalls.StartSessionAsync(api.Client, new { experimentId }); // seeded: control, treatment

        var assignment = Assert.Single(assignments.GetMeasurementSnapshot());
        Assert.Equal("control", assignment.Tags[VisitorNumberingTelemetry.ConditionTag]);
        Assert.Equal("live", assignment.Tags[VisitorNumberingTelemetry.ModeTag]);
        var span = Assert.Single(spans.Completed, a => a.OperationName == VisitorNumberingTelemetry.AssignActivity
            && Equals(a.GetTagItem(VisitorNumberingTelemetry.SessionIdTag), session.Id));
        Assert.Equal("control", span.GetTagItem(VisitorNumberingTelemetry.ConditionTag));
        Assert.Equal("live", span.GetTagItem(VisitorNumberingTelemetry.ModeTag));
    }

    [Fact]
    public async Task Recovery_gives_a_fallback_session_the_condition_of_its_new_number()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        await DeclareAsync(api, "least-filled", ["a", "b"]);
        var experimentId = await api.ActiveExperimentIdAsync();
        var first = await ApiCalls.StartSessionAsync(api.Client, new { experimentId }); // 1: a
        await ApiCalls.StartSessionAsync(api.Client, new { experimentId }); // 2: b
        await CompleteAsync(api.Client, first, true); // a has one completed, b none
        await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence MAXVALUE 2");
        var fallback = await ApiCalls.StartSessionAsync(api.Client, new { experimentId });
        await CompleteAsync(api.Client, fallback, true); // completed before it had a number
        await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence NO MAXVALUE");
        Assert.Null(fallback.Condition);

        var result = await ApiCalls.RecoverAsync(api.Client);

        var assignment = Assert.Single(result.Assignments);
        Assert.Equal(3, assignment.VisitorNumber);
        Assert.Equal("b", assignment.Condition);
        Assert.Equal("live", assignment.Mode);
        var read = await api.Client.GetFromJsonAsync<SessionDetails>($"/api/session/{fallback.Id}", fallback.SessionSecret!);
        Assert.Equal("b", read.Condition);
        // Counted as started and completed, as if it had been numbered at Play.
        Assert.Equal(2, await api.ScalarAsync<long>("SELECT started FROM condition_tallies WHERE condition = 'b'"));
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT completed FROM condition_tallies WHERE condition = 'b'"));
    }

    internal static Task DeclareAsync(TestApi api, string scheme, string[] conditions) =>
        api.ExecuteAsync($"UPDATE experiments SET condition_scheme = '{scheme}', "
            + $"conditions = ARRAY[{string.Join(", ", conditions.Select(c => $"'{c}'"))}]::text[]");

    /// <summary>The seed experiment's levels: a participant completes a session at the last.</summary>
    internal const int LastLevel = 4;

    private static async Task CompleteAsync(HttpClient client, StartedSession session, bool completed)
    {
        using var response = await client.PatchAsJsonAsync($"/api/session/{session.Id}",
            new { currentLevel = LastLevel, isCompleted = completed }, session.SessionSecret!);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static string[] Order(SessionDetails session) => Assert.IsType<string[]>(session.ConditionOrder);

    /// <summary>Over one full cycle of rows: every order a permutation whose first entry is the condition, each
    /// condition first equally often, and each ordered pair adjacent equally often (carry-over balanced).</summary>
    private static void AssertBalanced(List<StartedSession> sessions, string[] conditions, int timesFirst, int timesEachPair)
    {
        var orders = sessions.Select(Order).ToList();
        Assert.All(orders, o => Assert.Equal(conditions, o.Order()));
        Assert.All(sessions, s => Assert.Equal(Order(s)[0], s.Condition));
        Assert.All(conditions, c => Assert.Equal(timesFirst, orders.Count(o => o[0] == c)));
        var pairs = orders.SelectMany(o => o.Zip(o.Skip(1))).GroupBy(p => p).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(conditions.Length * (conditions.Length - 1), pairs.Count);
        Assert.All(pairs.Values, n => Assert.Equal(timesEachPair, n));
    }

    private static async Task<JsonElement[]> PlayConcurrentlyAsync(TestApi api, int count)
    {
        var experimentId = await api.ActiveExperimentIdAsync();
        var clients = api.Hosts.Select(h => h.CreateClient()).ToArray();
        using var start = new SemaphoreSlim(0);
        var plays = Enumerable.Range(0, count).Select(async i =>
        {
            await start.WaitAsync();
            // JSON: a caller checks that conditionOrder is left out, not null.
            return await SessionNumberingTests.CreateSessionJsonAsync(clients[i % clients.Length], new { experimentId });
        }).ToList();
        start.Release(count);
        return await Task.WhenAll(plays);
    }
}
