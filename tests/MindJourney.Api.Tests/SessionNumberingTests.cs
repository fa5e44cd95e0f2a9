using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using MindJourney.Api.Responses;
using MindJourney.Api.Sessions;
using MindJourney.Api.Telemetry;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

[Collection(PostgresCollection.Name)]
public sealed class SessionNumberingTests(PostgresServer postgres)
{
    [Fact]
    public async Task Five_hundred_concurrent_plays_get_exactly_the_numbers_1_to_500()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var numbers = await PlayConcurrentlyAsync(api, 500);

        Assert.Equal(Enumerable.Range(1, 500), numbers.Order());
        Assert.Equal(500, await api.SequencePositionAsync());
        Assert.Equal(500, await api.ScalarAsync<long>("SELECT count(DISTINCT visitor_number) FROM users"));
    }

    [Fact]
    public async Task Five_hundred_concurrent_plays_through_three_api_instances_get_exactly_1_to_500()
    {
        await using var api = await TestApi.StartAsync(postgres, instances: 3);
        var numbers = await PlayConcurrentlyAsync(api, 500);

        Assert.Equal(Enumerable.Range(1, 500), numbers.Order());
        Assert.Equal(0, await api.ScalarAsync<long>(
            "SELECT count(*) FROM experiment_sessions s JOIN users u ON u.id = s.user_id " +
            "WHERE s.visitor_number IS DISTINCT FROM u.visitor_number"));
    }

    [Fact]
    public async Task A_returning_user_keeps_their_number_and_consumes_no_sequence_value()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var experimentId = await api.ActiveExperimentIdAsync();
        var first = await CreateSessionAsync(api.Client, new { experimentId });
        await CreateSessionAsync(api.Client, new { experimentId }); // someone else: number 2

        var again = await CreateSessionAsync(api.Client, new { experimentId, userId = first.UserId },
            secret: first.SessionSecret);

        Assert.Equal(1, first.VisitorNumber);
        Assert.Equal(1, again.VisitorNumber);
        Assert.NotEqual(first.Id, again.Id);
        Assert.Equal(2, await api.SequencePositionAsync());
    }

    [Fact]
    public async Task An_idempotency_key_replay_returns_the_same_session_and_leaves_the_sequence_unmoved()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var experimentId = await api.ActiveExperimentIdAsync();
        var key = Guid.NewGuid().ToString();

        var first = await CreateSessionAsync(api.Client, new { experimentId }, key);
        var positionAfterFirst = await api.SequencePositionAsync();
        var replay = await CreateSessionAsync(api.Client, new { experimentId }, key);

        Assert.Equal(first.Id, replay.Id);
        Assert.NotNull(first.VisitorNumber);
        Assert.Equal(first.VisitorNumber, replay.VisitorNumber);
        Assert.Equal(positionAfterFirst, await api.SequencePositionAsync());
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_sessions"));
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM users"));
    }

    [Fact]
    public async Task Concurrent_requests_with_one_idempotency_key_create_one_session_with_one_number()
    {
        await using var api = await TestApi.StartAsync(postgres, instances: 2);
        var experimentId = await api.ActiveExperimentIdAsync();
        var key = Guid.NewGuid().ToString();

        var sessions = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            CreateSessionAsync(api.Hosts[i % 2].CreateClient(), new { experimentId }, key)));

        Assert.Single(sessions.Select(s => s.Id).Distinct());
        Assert.Equal(1, await api.SequencePositionAsync());
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM users"));
    }

    [Fact]
    public async Task When_the_sequence_is_exhausted_the_session_is_still_created_without_a_number_and_the_fallback_is_recorded()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var experimentId = await api.ActiveExperimentIdAsync();
        await CreateSessionAsync(api.Client, new { experimentId });
        await CreateSessionAsync(api.Client, new { experimentId });
        await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence MAXVALUE 2");

        var host = api.Hosts[0];
        using var fallbacks = new MetricCollector<long>(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            VisitorNumberingTelemetry.SourceName, "mindjourney.visitor_number.fallbacks");
        using var assignments = new MetricCollector<long>(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            VisitorNumberingTelemetry.SourceName, "mindjourney.visitor_number.assignments");
        using var spans = new SpanRecorder(VisitorNumberingTelemetry.SourceName);

        var response = await api.Client.PostAsJsonAsync("/api/session", new { experimentId });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var session = await response.Content.ReadAsAsync<StartedSession>(); // visitorNumber is required: written as null

        Assert.Null(session.VisitorNumber);
        var sessionId = session.Id;
        Assert.Equal(1, await api.ScalarAsync<long>(
            $"SELECT count(*) FROM experiment_sessions WHERE id = '{sessionId}' AND visitor_number IS NULL"));

        var fallback = Assert.Single(fallbacks.GetMeasurementSnapshot());
        Assert.Equal(1, fallback.Value);
        Assert.Equal("2200H", fallback.Tags[VisitorNumberingTelemetry.ErrorTypeTag]); // sequence_generator_limit_exceeded
        Assert.Contains(assignments.GetMeasurementSnapshot(), m => (string?)m.Tags[VisitorNumberingTelemetry.OutcomeTag] == "fallback");

        var span = Assert.Single(spans.Completed, a => a.OperationName == VisitorNumberingTelemetry.AssignActivity
            && Equals(a.GetTagItem(VisitorNumberingTelemetry.SessionIdTag), sessionId));
        Assert.Equal("fallback", span.GetTagItem(VisitorNumberingTelemetry.OutcomeTag));
        Assert.Equal("2200H", span.GetTagItem(VisitorNumberingTelemetry.ErrorTypeTag));
    }

    [Fact]
    public async Task When_the_database_refuses_connections_play_answers_503_and_writes_nothing()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var experimentId = await api.ActiveExperimentIdAsync();
        await CreateSessionAsync(api.Client, new { experimentId });
        var database = await api.ScalarAsync<string>("SELECT current_database()");
        await using (var admin = new Npgsql.NpgsqlConnection(postgres.AdminConnectionString))
        {
            await admin.OpenAsync();
            await using var close = new Npgsql.NpgsqlCommand(
                $"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS false; " +
                $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'", admin);
            await close.ExecuteNonQueryAsync();
        }

        try
        {
            for (var attempt = 0; attempt < 3; attempt++) // the first may meet a pooled connection that was just cut
            {
                var response = await api.Client.PostAsJsonAsync("/api/session", new { experimentId });
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.NotNull(response.Headers.RetryAfter);
            }
        }
        finally
        {
            await using var admin = new Npgsql.NpgsqlConnection(postgres.AdminConnectionString);
            await admin.OpenAsync();
            await using var open = new Npgsql.NpgsqlCommand($"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS true", admin);
            await open.ExecuteNonQueryAsync();
        }

        Npgsql.NpgsqlConnection.ClearAllPools();
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM users"));
        Assert.Equal(1, await api.SequencePositionAsync());
        var after = await CreateSessionAsync(api.Client, new { experimentId });
        Assert.Equal(2, after.VisitorNumber);
    }

    [Fact]
    public async Task A_new_visitor_costs_exactly_one_database_round_trip()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var client = api.Client;
        var experimentId = await api.ActiveExperimentIdAsync(client);
        await CreateSessionAsync(client, new { experimentId }); // warm the pool and prepared statements

        using var commands = new SpanRecorder("Npgsql");
        // Everything this request causes, in the API too, shares this trace id (W3C trace context over HTTP).
        using var play = new Activity("press-play").Start();
        var traceId = play.TraceId;
        var response = await client.PostAsJsonAsync("/api/session", new { experimentId });
        play.Stop();

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var issued = commands.Completed.Where(a => a.TraceId == traceId && a.Kind == ActivityKind.Client).ToList();
        Assert.True(issued.Count == 1,
            $"Expected one database command, saw {issued.Count}: {string.Join(" | ", issued.Select(a => a.DisplayName))}");
    }

    [Fact]
    public async Task Responses_inherit_their_sessions_visitor_number()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var experimentId = await api.ActiveExperimentIdAsync();
        await CreateSessionAsync(api.Client, new { experimentId });
        var session = await CreateSessionAsync(api.Client, new { experimentId });
        var sessionId = session.Id;

        var post = await api.Client.PostAsJsonAsync("/api/response", new
        {
            sessionId,
            levelId = "level-1",
            questionId = "q1",
            responseType = "text",
            responseData = "{\"text\":\"I came for the science\"}",
        });
        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        var json = await post.Content.ReadFromJsonAsync<JsonElement>();
        var created = json.As<ResponseDetails>();
        var listed = (await api.Client.GetFromJsonAsync($"/api/session/{sessionId}/responses", session.SessionSecret!))
            .As<ResponseDetails[]>();

        Assert.Equal(2, created.VisitorNumber);
        Assert.Equal("I came for the science", created.ResponseData.GetProperty("text").GetString()); // free-form answer data
        Assert.False(json.TryGetProperty("userId", out _), "the answer names no person"); // absent, not null: raw JSON
        var only = Assert.Single(listed);
        Assert.Equal(2, only.VisitorNumber);
    }

    [Fact]
    public async Task Patch_moves_the_level_and_reports_progress()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var experimentId = await api.ActiveExperimentIdAsync();
        var session = await CreateSessionAsync(api.Client, new { experimentId });
        Assert.Equal(25, session.PercentComplete);

        var patched = await api.Client.PatchAsJsonAsync($"/api/session/{session.Id}", new { currentLevel = 3 }, session.SessionSecret!);
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var body = await patched.Content.ReadAsAsync<SessionDetails>();
        var done = await (await api.Client.PatchAsJsonAsync($"/api/session/{session.Id}",
            new { currentLevel = ConditionTests.LastLevel, isCompleted = true }, session.SessionSecret!))
            .Content.ReadAsAsync<SessionDetails>();

        Assert.Equal(3, body.CurrentLevel);
        Assert.Equal(75, body.PercentComplete);
        Assert.NotNull(session.VisitorNumber);
        Assert.Equal(session.VisitorNumber, body.VisitorNumber);
        Assert.True(done.IsCompleted);
        Assert.Equal(100, done.PercentComplete);
    }

    /// <param name="secret">A secret of one of the person's sessions: the proof a start with a <c>userId</c> needs.</param>
    internal static async Task<StartedSession> CreateSessionAsync(HttpClient client, object body, string? idempotencyKey = null,
        string? secret = null) => (await CreateSessionJsonAsync(client, body, idempotencyKey, secret)).As<StartedSession>();

    /// <summary>The same answer as written, for the tests that check its JSON shape (a field left out).</summary>
    internal static async Task<JsonElement> CreateSessionJsonAsync(HttpClient client, object body, string? idempotencyKey = null,
        string? secret = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/session") { Content = JsonContent.Create(body) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        if (secret is not null)
        {
            request.Headers.Add(SessionSecretRequests.Header, secret);
        }

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<List<int>> PlayConcurrentlyAsync(TestApi api, int count)
    {
        var experimentId = await api.ActiveExperimentIdAsync();
        var clients = api.Hosts.Select(h => h.CreateClient()).ToArray();
        using var start = new SemaphoreSlim(0);
        var plays = Enumerable.Range(0, count).Select(async i =>
        {
            await start.WaitAsync();
            var session = await CreateSessionAsync(clients[i % clients.Length], new { experimentId });
            return session.VisitorNumber ?? throw new InvalidOperationException("a play without a number");
        }).ToList();
        start.Release(count);
        return [.. await Task.WhenAll(plays)];
    }
}
