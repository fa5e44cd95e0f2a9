using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using MindJourney.Api.Experiments;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Responses;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>
/// The network between the API and PostgreSQL goes silent (<see cref="PostgresRelay"/>: connections stay open, no byte
/// moves), as in the fault suite's partition: Play and a text answer are answered 503 with the database-unavailable
/// problem once <c>MindJourney:Database:RequestDeadlineSeconds</c> passes, instead of waiting as long as the silence
/// lasts, and so are the requests that arrive while their statements hang; /health says Unhealthy. After the network
/// heals, each request's retry with its Idempotency-Key gets what its first attempt stored, once.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class DatabasePartitionTests(PostgresServer postgres)
{
    private static readonly Dictionary<string, string?> Settings = new(AdminTests.WithAdminKey)
    {
        ["MindJourney:Database:RequestDeadlineSeconds"] = "2",
    };

    [Fact]
    public async Task A_Play_during_a_partition_answers_503_by_the_deadline_and_its_retry_gets_one_number()
    {
        await using var relay = PostgresRelay.To(postgres);
        await using var api = await TestApi.StartAsync(postgres, settings: Settings, relay: relay);
        var logs = new FakeLogCollector();
        api.Hosts[0].Services.GetRequiredService<ILoggerFactory>().AddProvider(new FakeLoggerProvider(logs));
        using var client = ClientOf(api);
        var experimentId = await api.ActiveExperimentIdAsync(client);
        var before = await ApiCalls.StartSessionAsync(client, new { experimentId }, "partition-play-before-" + Guid.NewGuid());

        var healthBefore = await (await client.GetAsync("/health")).Content.ReadAsStringAsync();
        Assert.NotEqual("Unhealthy", healthBefore);

        relay.Partition();
        var key = "partition-play-first-" + Guid.NewGuid();
        var later = "partition-play-later-" + Guid.NewGuid();
        // The first is sent and its statement hangs; the second arrives behind it (one numbering statement in flight).
        var first = SendAsync(client, PlayRequest(experimentId, key));
        await Task.Delay(200);
        var second = await SendAsync(client, PlayRequest(experimentId, later));
        var firstRefusal = await first;
        using var health = await client.GetAsync("/health");
        var healthWhileSilent = (health.StatusCode, await health.Content.ReadAsStringAsync());
        relay.Heal();

        foreach (var refusal in new[] { firstRefusal, second })
        {
            AssertDatabaseUnavailable(refusal);
        }

        Assert.Equal((HttpStatusCode.ServiceUnavailable, "Unhealthy"), healthWhileSilent);

        // The first's statement ends now and keeps its number: the retry gets it, as often as it is sent.
        var retried = await ApiCalls.StartSessionAsync(client, new { experimentId }, key);
        var again = await ApiCalls.StartSessionAsync(client, new { experimentId }, key);
        var secondRetried = await ApiCalls.StartSessionAsync(client, new { experimentId }, later);
        Assert.Equal(retried.Id, again.Id);
        Assert.Equal(retried.VisitorNumber, again.VisitorNumber);
        Assert.Equal(
            new int?[] { before.VisitorNumber + 1, before.VisitorNumber + 2 },
            new[] { retried.VisitorNumber, secondRetried.VisitorNumber }.Order());
        var audit = await ApiCalls.AuditAsync(client);
        Assert.Empty(audit.Duplicates);
        Assert.Empty(audit.Gaps);
        Assert.Equal(3, audit.SequenceLastValue);
        Assert.Equal(3, audit.NumberedUsers);
        Assert.Equal(0, audit.UnnumberedSessions);

        // Each refusal is one warning, with no stack; none is an error.
        var lines = logs.GetSnapshot();
        Assert.Equal(2, lines.Count(l => l.Category == typeof(DatabaseDeadline).FullName && l.Level == LogLevel.Warning));
        Assert.DoesNotContain(lines, l => l.Exception is DatabaseDeadlineException);
        await WaitUntilHealthAsync(client, healthBefore);
    }

    [Fact]
    public async Task A_text_answer_during_a_partition_answers_503_and_its_retry_stores_it_once()
    {
        await using var relay = PostgresRelay.To(postgres);
        await using var api = await TestApi.StartAsync(postgres, settings: Settings, relay: relay);
        using var client = ClientOf(api);
        var experimentId = await api.ActiveExperimentIdAsync(client);
        var session = await ApiCalls.StartSessionAsync(client, new { experimentId });

        relay.Partition();
        var key = "partition-answer-" + Guid.NewGuid();
        var refusal = await SendAsync(client, TextRequest(session.Id, "said once", key));
        // Another session's answer arrives while the statement hangs: refused by its own deadline too.
        var other = await SendAsync(client, TextRequest(Guid.NewGuid(), "behind it", "partition-answer-" + Guid.NewGuid()));
        relay.Heal();

        AssertDatabaseUnavailable(refusal);
        AssertDatabaseUnavailable(other);
        using var retry = await client.SendAsync(TextRequest(session.Id, "said once", key));
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        using var replay = await client.SendAsync(TextRequest(session.Id, "said once", key));
        Assert.Equal(HttpStatusCode.Created, replay.StatusCode);
        Assert.Equal(1, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses WHERE session_id = '{session.Id}'"));
        Assert.Equal(1, await api.ScalarAsync<int>($"SELECT response_count FROM experiment_sessions WHERE id = '{session.Id}'"));
    }

    [Fact]
    public async Task An_EF_read_during_a_partition_answers_503_by_the_deadline_and_succeeds_once_it_heals()
    {
        await using var relay = PostgresRelay.To(postgres);
        await using var api = await TestApi.StartAsync(postgres, settings: Settings, relay: relay);
        using var client = ClientOf(api);
        var experimentId = await api.ActiveExperimentIdAsync(client);

        relay.Partition();
        var refusal = await TimedAsync(client, () => new HttpRequestMessage(HttpMethod.Get, "/api/experiment"));
        relay.Heal();

        AssertDatabaseUnavailable(refusal.Answer);
        AssertBeforeNpgsqlGivesUp(refusal.Took);
        using var healed = await client.GetAsync("/api/experiment");
        Assert.Equal(HttpStatusCode.OK, healed.StatusCode);
        Assert.Equal(experimentId, (await healed.Content.ReadFromJsonAsync<ExperimentSummary>())!.Id);
    }

    [Fact]
    public async Task A_session_PATCH_during_a_partition_answers_503_by_the_deadline_and_its_repeat_moves_it_once_healed()
    {
        await using var relay = PostgresRelay.To(postgres);
        await using var api = await TestApi.StartAsync(postgres, settings: Settings, relay: relay);
        using var client = ClientOf(api);
        var experimentId = await api.ActiveExperimentIdAsync(client);
        var session = await ApiCalls.StartSessionAsync(client, new { experimentId });

        relay.Partition();
        // With the session's secret, as the page sends it (its lookup waits on the database), and with the admin key
        // (no lookup: the PATCH's own transaction waits). The same level: a refused PATCH may still land once it heals.
        var refusal = await TimedAsync(client, () => PatchRequest(session, 2));
        var byResearcher = await TimedAsync(client, () =>
        {
            var request = PatchRequest(session, 2);
            request.Headers.Remove(SessionSecretRequests.Header);
            request.Headers.Add("X-Admin-Key", AdminTests.AdminKey);
            return request;
        });
        relay.Heal();

        foreach (var refused in new[] { refusal, byResearcher })
        {
            AssertDatabaseUnavailable(refused.Answer);
            AssertBeforeNpgsqlGivesUp(refused.Took);
        }

        using var repeat = await client.SendAsync(PatchRequest(session, 2));
        Assert.Equal(HttpStatusCode.OK, repeat.StatusCode);
        Assert.Equal(2, (await repeat.Content.ReadFromJsonAsync<SessionDetails>())!.CurrentLevel);
        Assert.Equal(2, await api.ScalarAsync<int>($"SELECT current_level FROM experiment_sessions WHERE id = '{session.Id}'"));
    }

    /// <summary>Without storage, an upload's row and its durable copy on the bulk pool wait; with storage, its fields
    /// come before the file, so its upload to storage starts as the file arrives and reads the session first: that
    /// read waits on the database too, and must not hold the refusal.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_file_upload_during_a_partition_answers_503_by_the_deadline_and_its_retry_is_stored_once(bool withStorage)
    {
        await using var storage = withStorage ? await TestStorage.StartAsync() : null;
        await using var relay = PostgresRelay.To(postgres);
        await using var api = await TestApi.StartAsync(postgres, settings: Settings, storage: storage, relay: relay);
        using var client = ClientOf(api);
        var experimentId = await api.ActiveExperimentIdAsync(client);
        var session = await ApiCalls.StartSessionAsync(client, new { experimentId });
        var clip = Uploads.RandomBytes(64 * 1024, 9);
        await ApiCalls.RecordAsync(client, Uploads.Multipart(Uploads.Fields(session.Id, "video"), clip));

        // One with a key (its replay lookup waits), one without (its row, or its session's read, waits).
        var key = "partition-upload-" + Guid.NewGuid();
        await UploadsRefusedDuringPartitionAsync(relay, client, session.Id, clip, key);

        // The unkeyed upload's row may land once the network heals (its statement was sent): the keyed one is the
        // retry a page makes, and is stored exactly once however often it is sent.
        using var retry = await client.SendAsync(UploadRequest(session.Id, clip, key));
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal(withStorage ? StorageInfo.Stored : StorageInfo.Pending,
            (await retry.Content.ReadFromJsonAsync<ResponseDetails>())!.Storage.Status);
        using var replay = await client.SendAsync(UploadRequest(session.Id, clip, key));
        Assert.Equal(HttpStatusCode.Created, replay.StatusCode);
        Assert.True(replay.Headers.Contains(SessionsApi.IdempotentReplayedHeader));
        Assert.Equal(1, await api.ScalarAsync<long>(
            $"SELECT count(*) FROM experiment_responses WHERE session_id = '{session.Id}' AND idempotency_key IS NOT NULL"));
    }

    /// <summary>Npgsql's own wait for a connection (15 s) would answer 503 too, much later: the deadline (2 s) is what
    /// answered when it comes well before.</summary>
    private static void AssertBeforeNpgsqlGivesUp(TimeSpan took) => Assert.True(took < TimeSpan.FromSeconds(10), $"took {took}");

    private static async Task<((HttpStatusCode Status, ProblemDetails? Problem, bool RetryAfter) Answer, TimeSpan Took)> TimedAsync(
        HttpClient client, Func<HttpRequestMessage> request)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var answer = await SendAsync(client, request());
        return (answer, clock.Elapsed);
    }

    private static HttpRequestMessage PatchRequest(StartedSession session, int level) =>
        new(HttpMethod.Patch, $"/api/session/{session.Id}")
        {
            Content = JsonContent.Create(new { currentLevel = level }),
            Headers = { { SessionSecretRequests.Header, session.SessionSecret } },
        };

    private static HttpRequestMessage UploadRequest(Guid sessionId, byte[] clip, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/response")
        {
            Content = Uploads.Multipart(Uploads.Fields(sessionId, "video"), clip),
        };
        if (key is not null)
        {
            request.Headers.Add(SessionsApi.IdempotencyKeyHeader, key);
        }

        return request;
    }

    /// <summary>Short enough that a request waiting out the partition fails the test instead of hanging it.</summary>
    private static HttpClient ClientOf(TestApi api)
    {
        var client = api.Hosts[0].CreateClient();
        client.Timeout = TimeSpan.FromSeconds(20);
        return client;
    }

    /// <summary>Two uploads of <paramref name="clip"/> sent while the database is silent, one under
    /// <paramref name="key"/> and one without a key: both refused by the deadline, before Npgsql would give up.</summary>
    private static async Task UploadsRefusedDuringPartitionAsync(PostgresRelay relay, HttpClient client, Guid sessionId,
        byte[] clip, string key)
    {
        relay.Partition();
        var keyed = TimedAsync(client, () => UploadRequest(sessionId, clip, key));
        var unkeyed = await TimedAsync(client, () => UploadRequest(sessionId, clip, key: null));
        var keyedRefusal = await keyed;
        relay.Heal();

        foreach (var refusal in new[] { keyedRefusal, unkeyed })
        {
            AssertDatabaseUnavailable(refusal.Answer);
            AssertBeforeNpgsqlGivesUp(refusal.Took);
        }
    }

    private static void AssertDatabaseUnavailable((HttpStatusCode Status, ProblemDetails? Problem, bool RetryAfter) refusal)
    {
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refusal.Status);
        Assert.Equal(Problems.TypePrefix + "service-unavailable", refusal.Problem?.Type);
        Assert.True(refusal.RetryAfter);
    }

    private static async Task<(HttpStatusCode Status, ProblemDetails? Problem, bool RetryAfter)> SendAsync(HttpClient client,
        HttpRequestMessage request)
    {
        using (request)
        {
            using var response = await client.SendAsync(request);
            var problem = response.Content.Headers.ContentType?.MediaType == "application/problem+json"
                ? await response.Content.ReadFromJsonAsync<ProblemDetails>()
                : null;
            return (response.StatusCode, problem, response.Headers.RetryAfter is not null);
        }
    }

    private static HttpRequestMessage PlayRequest(Guid experimentId, string key) => new(HttpMethod.Post, "/api/session")
    {
        Content = JsonContent.Create(new { experimentId }),
        Headers = { { SessionsApi.IdempotencyKeyHeader, key } },
    };

    private static HttpRequestMessage TextRequest(Guid sessionId, string text, string key) => new(HttpMethod.Post, "/api/response")
    {
        Content = JsonContent.Create(
            new { sessionId, levelId = "1", questionId = "q1", responseType = "text", responseData = new { text } }),
        Headers = { { SessionsApi.IdempotencyKeyHeader, key } },
    };

    /// <summary>/health as before the partition (Degraded without storage), once the database answers again.</summary>
    private static async Task WaitUntilHealthAsync(HttpClient client, string before)
    {
        var status = "";
        for (var attempt = 0; attempt < 100 && status != before; attempt++)
        {
            await Task.Delay(100);
            status = await (await client.GetAsync("/health")).Content.ReadAsStringAsync();
        }

        Assert.Equal(before, status);
    }
}
