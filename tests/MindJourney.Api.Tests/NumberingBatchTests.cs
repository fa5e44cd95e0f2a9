using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;
using MindJourney.Api.Sessions;
using MindJourney.Api.Telemetry;
using MindJourney.Testing;
using Npgsql;

namespace MindJourney.Api.Tests;

/// <summary>New visitors that arrive while a numbering statement is in flight are numbered together by the next
/// one. To put chosen requests in one batch, the tests hold a lock that the statement in flight waits for, queue
/// the requests one after another behind it, then let go.</summary>
[Collection(PostgresCollection.Name)]
public sealed class NumberingBatchTests(PostgresServer postgres)
{
    private const string BatchSize = "mindjourney.visitor_number.batch.size";

    [Fact]
    public async Task Concurrent_plays_on_one_host_are_numbered_together_with_unique_contiguous_numbers()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var experimentId = await api.ActiveExperimentIdAsync();
        using var batches = Collect<int>(api, BatchSize);
        var client = api.Client;

        using var start = new SemaphoreSlim(0);
        var plays = Enumerable.Range(0, 300).Select(async _ =>
        {
            await start.WaitAsync();
            var session = await SessionNumberingTests.CreateSessionAsync(client, new { experimentId }, Guid.NewGuid().ToString());
            return session.VisitorNumber ?? throw new InvalidOperationException("a play without a number");
        }).ToList();
        start.Release(300);
        var numbers = await Task.WhenAll(plays);

        Assert.Equal(Enumerable.Range(1, 300), numbers.Order());
        var sizes = batches.GetMeasurementSnapshot().Select(m => m.Value).ToList();
        Assert.Equal(300, sizes.Sum());
        Assert.True(sizes.Max() > 1, $"Every statement numbered one visitor: {sizes.Count} statements.");
    }

    [Fact]
    public async Task Plays_waiting_for_a_statement_are_numbered_in_the_order_they_arrived()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var experimentId = await api.ActiveExperimentIdAsync();
        using var batches = Collect<int>(api, BatchSize);

        var sessions = await QueueBehindHeldLockAsync(api, [.. Enumerable.Range(0, 30).Select(i => Play(new { experimentId }, $"k{i}"))]);

        var numbers = sessions.Select(r => NumberOf(r)).ToList();
        Assert.All(sessions, r => Assert.Equal(HttpStatusCode.Created, r.Status));
        Assert.Equal(Enumerable.Range(numbers[0], 30), numbers);
        Assert.Contains(30, batches.GetMeasurementSnapshot().Select(m => m.Value));
    }

    [Fact]
    public async Task Equal_idempotency_keys_waiting_together_number_once_and_get_the_same_session()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var experimentId = await api.ActiveExperimentIdAsync();
        var before = await api.SequencePositionAsync();

        var answers = await QueueBehindHeldLockAsync(api,
        [
            Play(new { experimentId }, "same"), Play(new { experimentId }, "other"), Play(new { experimentId }, "same"),
            Play(new { experimentId }, "another"), Play(new { experimentId }, "same"),
        ]);

        Assert.All(answers, r => Assert.Equal(HttpStatusCode.Created, r.Status));
        var same = answers.Where((_, i) => i is 0 or 2 or 4).ToList();
        Assert.Single(same.Select(r => r.Session.Id).Distinct());
        Assert.Equal(3, answers.Select(r => NumberOf(r)).Distinct().Count());
        var blockers = Blockers(api);
        Assert.Equal(before + blockers + 3, await api.SequencePositionAsync());
        Assert.Equal(1, await api.ScalarAsync<long>(
            $"SELECT count(*) FROM experiment_sessions WHERE idempotency_key = '{ApiHost.StoredIdempotencyKey(Key("same"))}'"));
    }

    [Fact]
    public async Task A_batch_with_an_unknown_experiment_a_level_out_of_range_and_a_reused_key_answers_each_and_numbers_the_rest()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var experimentId = await api.ActiveExperimentIdAsync();
        var first = await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId }, Key("used"));
        using var batches = Collect<int>(api, BatchSize);

        var answers = await QueueBehindHeldLockAsync(api,
        [
            Play(new { experimentId }, "a"),
            Play(new { experimentId = Guid.NewGuid() }, "unknown"),
            Play(new { experimentId, currentLevel = 99 }, "level"),
            Play(new { experimentId, currentLevel = 2 }, "used"), // the same key with another body
            Play(new { experimentId }, "used"), // a replay
            Play(new { experimentId }, "b"),
        ]);

        Assert.Equal(
            [HttpStatusCode.Created, HttpStatusCode.NotFound, HttpStatusCode.BadRequest, HttpStatusCode.UnprocessableEntity,
                HttpStatusCode.Created, HttpStatusCode.Created],
            answers.Select(r => r.Status));
        Assert.Equal(first.Id, answers[4].Session.Id);
        Assert.Equal(NumberOf(answers[0]) + 1, NumberOf(answers[5]));
        // The second "used" never shares a statement with the first: it led the next one, beside "b".
        Assert.Equal([4, 2], batches.GetMeasurementSnapshot().Select(m => m.Value).Skip(Blockers(api)));
        // Nothing but the two new visitors (and the statements held in flight) took a number.
        Assert.Equal(1 + Blockers(api) + 2, await api.SequencePositionAsync());
    }

    [Fact]
    public async Task A_batch_postgres_refuses_falls_back_only_for_the_request_it_refused()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var experimentId = await api.ActiveExperimentIdAsync();
        await api.ExecuteAsync("""
            CREATE FUNCTION refuse_numbered() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.visitor_number IS NOT NULL AND NEW.branching_path = 'refuse' THEN
                    RAISE EXCEPTION 'this session may not have a number';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_numbered BEFORE INSERT ON experiment_sessions FOR EACH ROW EXECUTE FUNCTION refuse_numbered();
            """);
        using var batches = Collect<int>(api, BatchSize);
        using var fallbacks = Collect<long>(api, "mindjourney.visitor_number.fallbacks");

        var answers = await QueueBehindHeldLockAsync(api,
        [
            Play(new { experimentId }, "a"), Play(new { experimentId, branchingPath = "refuse" }, "r"),
            Play(new { experimentId }, "b"), Play(new { experimentId }, "c"),
        ]);

        Assert.All(answers, r => Assert.Equal(HttpStatusCode.Created, r.Status));
        Assert.Null(answers[1].Session.VisitorNumber); // visitorNumber is required: written as null
        var numbered = new[] { answers[0], answers[2], answers[3] }.Select(r => NumberOf(r)).ToList();
        Assert.Equal(3, numbered.Distinct().Count());
        Assert.Equal(1, Assert.Single(fallbacks.GetMeasurementSnapshot()).Value);
        Assert.Contains(4, batches.GetMeasurementSnapshot().Select(m => m.Value));
        Assert.Equal(0, await api.ScalarAsync<long>(
            "SELECT count(*) FROM experiment_sessions WHERE visitor_number IS NULL AND branching_path IS DISTINCT FROM 'refuse'"));
    }

    [Fact]
    public async Task Two_hosts_batching_at_once_hand_out_unique_contiguous_numbers()
    {
        await using var api = await TestApi.StartAsync(postgres, instances: 2);
        var experimentId = await api.ActiveExperimentIdAsync();
        using var first = Collect<int>(api, BatchSize, host: 0);
        using var second = Collect<int>(api, BatchSize, host: 1);
        var clients = api.Hosts.Select(h => h.CreateClient()).ToArray();

        using var start = new SemaphoreSlim(0);
        var plays = Enumerable.Range(0, 400).Select(async i =>
        {
            await start.WaitAsync();
            var session = await SessionNumberingTests.CreateSessionAsync(clients[i % 2], new { experimentId }, Guid.NewGuid().ToString());
            return session.VisitorNumber ?? throw new InvalidOperationException("a play without a number");
        }).ToList();
        start.Release(400);
        var numbers = await Task.WhenAll(plays);

        Assert.Equal(Enumerable.Range(1, 400), numbers.Order());
        Assert.True(first.GetMeasurementSnapshot().Max(m => m.Value) > 1, "The first host never batched.");
        Assert.True(second.GetMeasurementSnapshot().Max(m => m.Value) > 1, "The second host never batched.");
    }

    [Theory]
    [InlineData("MindJourney:Numbering:MaxBatchSize", "0")]
    [InlineData("MindJourney:Numbering:MaxBatchSize", "1001")]
    [InlineData("MindJourney:Numbering:MaxStatementsInFlight", "-1")]
    public async Task An_invalid_numbering_setting_stops_the_start_with_a_message_naming_it(string setting, string value)
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => TestApi.StartAsync(postgres,
            settings: new Dictionary<string, string?> { [setting] = value }));

        Assert.Contains(setting + " must be between 1 and", AdminKeyGuessingTests.Messages(failure), StringComparison.Ordinal);
    }

    private static Func<HttpClient, Task<Answer>> Play(object body, string idempotencyKey) => async client =>
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/session") { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", Key(idempotencyKey));
        using var response = await client.SendAsync(request);
        return new Answer(response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    };

    // Keys are 16 characters at least: the short names above, made long enough.
    private static string Key(string name) => "batch-test-key-" + name;

    private static int NumberOf(Answer answer) =>
        answer.Session.VisitorNumber ?? throw new InvalidOperationException($"no number: {answer.Body}");

    private static MetricCollector<T> Collect<T>(TestApi api, string instrument, int host = 0) where T : struct => new(
        api.Hosts[host].Services.GetRequiredService<IMeterFactory>(), VisitorNumberingTelemetry.SourceName, instrument);

    /// <summary>The statements one host keeps in flight: that many new visitors are held before the batch.</summary>
    private static int Blockers(TestApi api) =>
        api.Hosts[0].Services.GetRequiredService<IOptions<NumberingOptions>>().Value.MaxStatementsInFlight;

    /// <summary>Fills every statement slot of the first host with a new visitor whose statement waits on a held
    /// lock, sends <paramref name="requests"/> one after another (each waiting for a statement before the next
    /// is sent), then lets go: they meet in the next statement, in the order they were sent.</summary>
    private static async Task<Answer[]> QueueBehindHeldLockAsync(TestApi api, Func<HttpClient, Task<Answer>>[] requests)
    {
        var client = api.Client;
        var experimentId = await api.ActiveExperimentIdAsync(client);
        var batcher = api.Hosts[0].Services.GetRequiredService<NumberingBatcher>();
        var deadline = Stopwatch.StartNew();
        async Task WaitForAsync(Func<Task<bool>> condition, string what)
        {
            while (!await condition())
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), $"Timed out waiting until {what}.");
                await Task.Delay(20);
            }
        }

        await using var holder = new NpgsqlConnection(api.ConnectionString);
        await holder.OpenAsync();
        var transaction = await holder.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("LOCK TABLE users IN SHARE MODE", holder, transaction))
        {
            await hold.ExecuteNonQueryAsync();
        }

        const string Stuck = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";
        var blockers = new List<Task<Answer>>();
        for (var i = 0; i < Blockers(api); i++)
        {
            blockers.Add(Play(new { experimentId }, $"blocker-{i}")(client));
            var expected = i + 1;
            await WaitForAsync(async () => await api.ScalarAsync<long>(Stuck) == expected, $"{expected} statements wait on the lock");
        }

        var answers = new List<Task<Answer>>();
        foreach (var request in requests)
        {
            answers.Add(request(client));
            var expected = answers.Count;
            await WaitForAsync(() => Task.FromResult(batcher.Waiting == expected), $"{expected} requests wait for a statement");
        }

        await transaction.CommitAsync();
        await transaction.DisposeAsync();
        Assert.All(await Task.WhenAll(blockers), r => Assert.Equal(HttpStatusCode.Created, r.Status));
        return await Task.WhenAll(answers);
    }

    /// <summary>An answer kept as JSON, since a refused play answers a problem rather than a session.</summary>
    private sealed record Answer(HttpStatusCode Status, JsonElement Body)
    {
        public StartedSession Session => Body.As<StartedSession>();
    }
}
