using System.Net;
using System.Net.Http.Json;
using MindJourney.Api.Responses;
using MindJourney.Api.Sessions;
using MindJourney.Testing;
using Npgsql;

namespace MindJourney.Api.Tests;

/// <summary>A number belongs to one person, and only completed work consumes one: a reused Idempotency-Key hands
/// nothing of its session to another request, a client that leaves burns no number, and neither does an admin whose
/// recovery call times out.</summary>
[Collection(PostgresCollection.Name)]
public sealed class NumberOwnershipTests(PostgresServer postgres, ITestOutputHelper output)
{
    private const string AdminKey = AdminTests.AdminKey;

    private static readonly Dictionary<string, string?> WithAdminKey = AdminTests.WithAdminKey;

    public static TheoryData<string, string> OtherRequestsUnderTheSameKey => new()
    {
        { "another user", """{"experimentId":"{experiment}","userId":"{user}"}""" },
        { "another body", """{"experimentId":"{experiment}","branchingPath":"b"}""" },
        { "another level", """{"experimentId":"{experiment}","currentLevel":2}""" },
        { "other session data", """{"experimentId":"{experiment}","sessionData":{"a":1}}""" },
        { "another experiment", """{"experimentId":"00000000-0000-0000-0000-00000000beef"}""" },
    };

    [Theory]
    [MemberData(nameof(OtherRequestsUnderTheSameKey))]
    public async Task A_key_reused_for_another_request_answers_422_and_reveals_nothing(string why, string template)
    {
        await using var api = await TestApi.StartAsync(postgres);
        var experimentId = await api.ActiveExperimentIdAsync();
        var someoneElse = await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId });
        var first = await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId }, "shared-idempotency-key");
        var position = await api.SequencePositionAsync();

        var body = template.Replace("{experiment}", experimentId.ToString(), StringComparison.Ordinal)
            .Replace("{user}", someoneElse.UserId.ToString(), StringComparison.Ordinal);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/session")
        {
            Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Idempotency-Key", "shared-idempotency-key");
        // Proof of being the other user, so that only the reused key is wrong.
        request.Headers.Add(SessionSecretRequests.Header, someoneElse.SessionSecret!);
        using var response = await api.Client.SendAsync(request);

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, $"{why}: {(int)response.StatusCode} {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain(first.Id.ToString(), text, StringComparison.Ordinal);
        Assert.DoesNotContain(first.UserId.ToString(), text, StringComparison.Ordinal);
        Assert.Equal(position, await api.SequencePositionAsync());
        Assert.Equal(2, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_sessions"));
    }

    [Fact]
    public async Task A_replay_of_the_same_request_gets_the_same_session_and_a_secret_that_works_beside_the_first()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var experimentId = await api.ActiveExperimentIdAsync();
        var body = new { experimentId, branchingPath = "a", sessionData = new { seed = 7 } };

        var first = await SessionNumberingTests.CreateSessionAsync(api.Client, body, "replayed-idempotency-key");
        var replay = await SessionNumberingTests.CreateSessionAsync(api.Client, body, "replayed-idempotency-key");

        Assert.Equal(first.Id, replay.Id);
        Assert.NotNull(first.VisitorNumber);
        Assert.Equal(first.VisitorNumber, replay.VisitorNumber);
        Assert.Equal(1, await api.SequencePositionAsync());
        var id = first.Id;
        foreach (var secret in new[] { first.SessionSecret!, replay.SessionSecret! })
        {
            using var read = await api.Client.GetAsync($"/api/session/{id}", secret);
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }
    }

    [Fact]
    public async Task A_key_is_forgotten_after_its_lifetime_and_then_starts_a_new_session()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?>
        {
            ["MindJourney:Idempotency:KeyLifetimeHours"] = (0.5 / 3600).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["MindJourney:Idempotency:PruneIntervalSeconds"] = "0.2",
        });
        var experimentId = await api.ActiveExperimentIdAsync();
        var first = await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId }, "short-lived-idempotency-key");

        await WaitUntilAsync(
            async () => await api.ScalarAsync<long>("SELECT count(*) FROM experiment_sessions WHERE idempotency_key IS NOT NULL") == 0,
            "the expired key is forgotten");
        var later = await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId }, "short-lived-idempotency-key");

        Assert.NotEqual(first.Id, later.Id);
        Assert.NotNull(first.VisitorNumber);
        Assert.Equal(first.VisitorNumber + 1, later.VisitorNumber);
    }

    [Fact]
    public async Task Five_hundred_plays_aborted_at_random_moments_burn_no_number()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: WithAdminKey);
        var experimentId = await api.ActiveExperimentIdAsync();
        var random = new Random(20261201);
        using var http = new HttpClient { BaseAddress = api.Hosts[0].ServerAddress };
        var aborted = 0;
        for (var wave = 0; wave < 10; wave++)
        {
            // While the experiment's row is held, numbering statements that reach the database take their number
            // and then wait (the session's foreign key): clients that give up meanwhile leave mid-statement.
            await using var hold = await RowLock.TakeAsync(api, "experiments", experimentId);

            var plays = Enumerable.Range(0, 50).Select(async i =>
            {
                using var abort = new CancellationTokenSource(TimeSpan.FromMilliseconds(random.Next(1, 60)));
                using var request = new HttpRequestMessage(HttpMethod.Post, "/api/session")
                {
                    Content = JsonContent.Create(new { experimentId })
                };
                if (i % 2 == 0)
                {
                    request.Headers.Add("Idempotency-Key", $"aborted-play-{wave}-{i}");
                }

                try
                {
                    using var response = await http.SendAsync(request, abort.Token);
                    Assert.Equal(HttpStatusCode.Created, response.StatusCode);
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref aborted);
                }
            }).ToList();
            await Task.Delay(random.Next(10, 40));
            await hold.ReleaseAsync();
            await Task.WhenAll(plays);
        }

        // Statements the server had already sent finish on their own: wait until the numbering is quiet.
        long previous = -1, position;
        while ((position = await api.SequencePositionAsync()) != previous)
        {
            previous = position;
            await Task.Delay(500);
        }

        Assert.True(aborted > 100, $"only {aborted} of 500 requests were aborted; the test would prove little");
        var audit = await ApiCalls.AuditAsync(api.Client);
        output.WriteLine($"{aborted} of 500 plays aborted; {audit.NumberedUsers} numbered visitors, "
            + $"sequence at {audit.SequenceLastValue}, {audit.Gaps.Count} gaps");
        Assert.Empty(audit.Gaps);
        Assert.Equal(audit.SequenceLastValue, audit.NumberedUsers);
    }

    [Fact]
    public async Task A_recovery_whose_admin_client_gives_up_still_finishes_and_burns_nothing()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: WithAdminKey);
        var experimentId = await api.ActiveExperimentIdAsync();
        var fallbacks = await StartFallbackSessionsAsync(api, experimentId, 3);

        // Someone holds the last fallback session's row: the recovery takes its numbers, then waits on that row.
        await using var hold = await RowLock.TakeAsync(api, "experiment_sessions", fallbacks[^1].Id);

        using (var impatient = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            using var recover = new HttpRequestMessage(HttpMethod.Post, "/api/admin/assign-visitor-numbers");
            recover.Headers.Add("X-Admin-Key", AdminKey);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => api.Client.SendAsync(recover, impatient.Token));
        }

        await hold.ReleaseAsync();
        await WaitUntilAsync(
            async () => await api.ScalarAsync<long>("SELECT count(*) FROM experiment_sessions WHERE visitor_number IS NULL") == 0,
            "the recovery finishes although its caller left");

        var audit = await ApiCalls.AuditAsync(api.Client);
        Assert.Empty(audit.Gaps);
        Assert.Equal(5, audit.SequenceLastValue);
        Assert.Equal(5, audit.NumberedUsers);
    }

    [Fact]
    public async Task Answers_stored_while_the_recovery_runs_take_the_number_it_assigns()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: WithAdminKey);
        var experimentId = await api.ActiveExperimentIdAsync();
        var sessionId = (await StartFallbackSessionsAsync(api, experimentId, 1))[0].Id;
        var early = await Uploads.PostTextAsync(api.Client, sessionId, "before the recovery");

        // The recovery numbers the session, then waits on the early answer's row: it has not committed yet.
        await using var hold = await RowLock.TakeAsync(api, "experiment_responses", early.Id);

        using var recover = new HttpRequestMessage(HttpMethod.Post, "/api/admin/assign-visitor-numbers");
        recover.Headers.Add("X-Admin-Key", AdminKey);
        var recovery = api.Client.SendAsync(recover);
        await WaitUntilAsync(async () => await api.ScalarAsync<long>(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%UPDATE experiment_responses%'") == 1,
            "the recovery waits on the held answer");

        // Meanwhile the participant answers twice: once with nothing to store, once with a text that is stored.
        var email = api.Client.PostAsJsonAsync("/api/response", new
        {
            sessionId,
            levelId = "1",
            questionId = "q5",
            responseType = "email",
            responseData = "someone@example.org",
        });
        var text = Uploads.PostTextAsync(api.Client, sessionId, "during the recovery");
        await Task.Delay(300);
        await hold.ReleaseAsync();

        using var recovered = await recovery;
        Assert.Equal(HttpStatusCode.OK, recovered.StatusCode);
        using var emailAnswer = await email;
        Assert.Equal(HttpStatusCode.Created, emailAnswer.StatusCode);
        Assert.Equal(3, (await emailAnswer.Content.ReadAsAsync<ResponseDetails>()).VisitorNumber);
        Assert.Equal(3, (await text).VisitorNumber);
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses WHERE visitor_number IS NULL"));
    }

    /// <summary>Two numbered visitors, then <paramref name="count"/> sessions that got no number (the sequence was at
    /// its limit meanwhile): what the recovery numbers.</summary>
    private static async Task<List<StartedSession>> StartFallbackSessionsAsync(TestApi api, Guid experimentId, int count)
    {
        await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId });
        await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId });
        await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence MAXVALUE 2");
        var fallbacks = new List<StartedSession>();
        for (var i = 0; i < count; i++)
        {
            fallbacks.Add(await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId }));
        }

        await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence NO MAXVALUE");
        return fallbacks;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"not within 30 s: {what}");
            await Task.Delay(100);
        }
    }

    /// <summary>One row held FOR UPDATE by a transaction of the test's own, until released: stops a statement of the
    /// API's at a chosen point.</summary>
    private sealed class RowLock : IAsyncDisposable
    {
        private readonly NpgsqlConnection _connection;
        private readonly NpgsqlTransaction _transaction;

        private RowLock(NpgsqlConnection connection, NpgsqlTransaction transaction)
        {
            _connection = connection;
            _transaction = transaction;
        }

        public static async Task<RowLock> TakeAsync(TestApi api, string table, Guid id)
        {
            var connection = new NpgsqlConnection(api.ConnectionString);
            await connection.OpenAsync();
            var transaction = await connection.BeginTransactionAsync();
            await using var command = new NpgsqlCommand($"SELECT 1 FROM {table} WHERE id = '{id}' FOR UPDATE", connection, transaction);
            await command.ExecuteScalarAsync();
            return new RowLock(connection, transaction);
        }

        public Task ReleaseAsync() => _transaction.RollbackAsync();

        public async ValueTask DisposeAsync()
        {
            await _transaction.DisposeAsync();
            await _connection.DisposeAsync();
        }
    }
}
