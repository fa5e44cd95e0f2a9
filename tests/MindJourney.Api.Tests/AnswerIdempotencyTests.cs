using System.Net;
using System.Net.Http.Json;
using System.Text;
using Microsoft.AspNetCore.Mvc;
using MindJourney.Api.Responses;
using MindJourney.Testing;
using Npgsql;

namespace MindJourney.Api.Tests;

/// <summary>An answer sent with an <c>Idempotency-Key</c> is stored once, whatever the network does: a retry (after
/// the first, or while it still runs, on this replica or another) returns the first answer with the same body, adds
/// no row, no storage object, and is counted neither by the session's quotas nor by the rate window; the same key with
/// another body is refused with 422 and learns nothing of the first.</summary>
[Collection(PostgresCollection.Name)]
public sealed class AnswerIdempotencyTests(PostgresServer postgres)
{
    [Fact]
    public async Task A_replay_after_the_first_returns_its_answer_with_201_and_stores_nothing_more()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, storage: storage);
        var session = await ApiCalls.StartSessionAsync(api);
        var key = NewKey();

        var (firstStatus, first, firstJson) = await PostTextAsync(api.Client, session.Id, "my first answer", key);
        var (replayStatus, replay, replayJson) = await PostTextAsync(api.Client, session.Id, "my first answer", key);

        Assert.Equal(HttpStatusCode.Created, firstStatus);
        Assert.Equal(HttpStatusCode.Created, replayStatus);
        Assert.Equal("pending", first!.Storage.Status); // written by the delivery worker, moments later
        Assert.Equal(first.Id, replay!.Id);
        Assert.Equal(firstJson.Replace("\"pending\"", "\"stored\"", StringComparison.Ordinal),
            replayJson.Replace("\"pending\"", "\"stored\"", StringComparison.Ordinal)); // status: as it is now
        Assert.Equal(first.CreatedAt, replay.CreatedAt);
        Assert.Equal(1, replay.VisitorNumber);

        await Uploads.WaitUntilStoredAsync(api, first.Id);
        var (_, later, _) = await PostTextAsync(api.Client, session.Id, "my first answer", key);
        Assert.Equal("stored", later!.Storage.Status);
        Assert.Equal(first.Storage.ObjectName, later.Storage.ObjectName);
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"));
        Assert.Equal(1, await api.ScalarAsync<int>($"SELECT response_count FROM experiment_sessions WHERE id = '{session.Id}'"));
        var objects = storage.Client.ListObjects(TestStorage.Bucket, $"experiment-responses/").ToList();
        var stored = Assert.Single(objects);
        Assert.Equal(first.Storage.ObjectName, stored.Name);
        Assert.Equal("my first answer"u8.ToArray(), await storage.DownloadAsync(stored.Name));
    }

    [Fact]
    public async Task A_replay_during_the_first_waits_for_it_on_this_replica_and_another_and_returns_its_answer()
    {
        await using var api = await TestApi.StartAsync(postgres, instances: 2);
        var session = await ApiCalls.StartSessionAsync(api);
        var key = NewKey();
        using var first = api.Hosts[0].CreateClient();
        using var sameReplica = api.Hosts[0].CreateClient();
        using var otherReplica = api.Hosts[1].CreateClient();

        // The session's row is held: the first answer's statement waits on it, as it would behind a slow commit.
        await using var holder = new NpgsqlConnection(api.ConnectionString);
        await holder.OpenAsync();
        await using var held = await holder.BeginTransactionAsync();
        var lockSql = $"SELECT 1 FROM experiment_sessions WHERE id = '{session.Id}' FOR UPDATE";
        await using (var lockRow = new NpgsqlCommand(lockSql, holder, held))
        {
            await lockRow.ExecuteNonQueryAsync();
        }

        var firstAnswer = PostTextAsync(first, session.Id, "sent once", key);
        await Uploads.WaitUntilAsync(async () => await api.ScalarAsync<long>(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%'") >= 1,
            "the first answer waits on the session's row");
        var replays = new[]
        {
            PostTextAsync(sameReplica, session.Id, "sent once", key), PostTextAsync(otherReplica, session.Id, "sent once", key),
        };
        await Task.Delay(300);
        Assert.False(firstAnswer.IsCompleted);
        Assert.All(replays, r => Assert.False(r.IsCompleted));
        await held.CommitAsync();

        var answers = await Task.WhenAll(replays.Prepend(firstAnswer));
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.Created, a.Status));
        Assert.Single(answers.Select(a => a.Json).Distinct());
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"));
        Assert.Equal(1, await api.ScalarAsync<int>($"SELECT response_count FROM experiment_sessions WHERE id = '{session.Id}'"));
    }

    [Fact]
    public async Task The_same_key_with_another_body_is_refused_with_422_that_reveals_nothing_and_stores_nothing()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var session = await ApiCalls.StartSessionAsync(api);
        var other = await ApiCalls.StartSessionAsync(api);
        var key = NewKey();
        var (_, first, _) = await PostTextAsync(api.Client, session.Id, "the secret first answer", key);

        foreach (var (sessionId, text) in new[] { (session.Id, "another answer"), (session.Id, "the secret first answer ") })
        {
            using var refused = await api.Client.SendAsync(TextRequest(sessionId, text, key));
            var body = await refused.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.Contains("Idempotency-Key", JsonContentOf(body).Detail, StringComparison.Ordinal);
            Assert.DoesNotContain("secret first", body, StringComparison.Ordinal);
            Assert.DoesNotContain(first!.Id.ToString(), body, StringComparison.OrdinalIgnoreCase);
        }

        // The key belongs to its session: another session's answer under it is its own first.
        var (status, inOther, _) = await PostTextAsync(api.Client, other.Id, "the secret first answer", key);
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.NotEqual(first!.Id, inOther!.Id);
        Assert.Equal(2, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"));
        Assert.Equal(1, await api.ScalarAsync<int>($"SELECT response_count FROM experiment_sessions WHERE id = '{session.Id}'"));
    }

    [Fact]
    public async Task A_multipart_replay_stores_one_row_and_one_object_and_another_file_under_its_key_is_422()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, storage: storage);
        var session = await ApiCalls.StartSessionAsync(api);
        var key = NewKey();
        var clip = Uploads.RandomBytes(300_000, seed: 26);

        var statuses = new List<HttpStatusCode>();
        var bodies = new List<string>();
        var replayed = new List<bool>();
        foreach (var _ in Enumerable.Range(0, 3))
        {
            using var sent = await api.Client.SendAsync(Upload(session.Id, clip, key));
            statuses.Add(sent.StatusCode);
            bodies.Add(await sent.Content.ReadAsStringAsync());
            replayed.Add(sent.Headers.Contains("Idempotent-Replayed"));
        }

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.Created, s));
        Assert.Single(bodies.Distinct());
        Assert.Equal([false, true, true], replayed);
        var objects = storage.Client.ListObjects(TestStorage.Bucket, "experiment-responses/").ToList();
        Assert.Single(objects);
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"));
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM storage_deliveries"));
        Assert.Equal(1, await api.ScalarAsync<int>($"SELECT file_count FROM experiment_sessions WHERE id = '{session.Id}'"));

        var otherClip = Uploads.RandomBytes(300_000, seed: 27);
        using var refused = await api.Client.SendAsync(Upload(session.Id, otherClip, key));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        Assert.Single(storage.Client.ListObjects(TestStorage.Bucket, "experiment-responses/"));
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"));
    }

    [Fact]
    public async Task Replays_are_charged_neither_to_the_sessions_quota_nor_to_the_rate_window()
    {
        await using var api = await TestApi.StartAsync(postgres, productionLimits: true, settings: new Dictionary<string, string?>
        {
            ["MindJourney:Storage:MaxResponsesPerSession"] = "2",
            ["MindJourney:RateLimit:ResponsesPerWindow"] = "4",
        });
        var session = await ApiCalls.StartSessionAsync(api);
        var (a, b) = (NewKey(), NewKey());

        Assert.Equal(HttpStatusCode.Created, (await PostTextAsync(api.Client, session.Id, "a", a)).Status);
        Assert.Equal(HttpStatusCode.Created, (await PostTextAsync(api.Client, session.Id, "b", b)).Status);
        // The session is full: a new answer is refused, its replays are not.
        Assert.Equal(HttpStatusCode.Conflict, (await PostTextAsync(api.Client, session.Id, "c", NewKey())).Status);
        var replays = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            replays.Add((await PostTextAsync(api.Client, session.Id, i % 2 == 0 ? "a" : "b", i % 2 == 0 ? a : b)).Status);
        }

        Assert.All(replays, s => Assert.Equal(HttpStatusCode.Created, s));
        Assert.Equal(2, await api.ScalarAsync<int>($"SELECT response_count FROM experiment_sessions WHERE id = '{session.Id}'"));
        Assert.Equal(2, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"));

        // Three requests counted of four: one more new answer is let through (409, the session is full), then the window is spent.
        Assert.Equal(HttpStatusCode.Conflict, (await PostTextAsync(api.Client, session.Id, "d", NewKey())).Status);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await PostTextAsync(api.Client, session.Id, "e", NewKey())).Status);
    }

    [Fact]
    public async Task An_answer_key_is_forgotten_after_its_lifetime()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?>
        {
            ["MindJourney:Idempotency:KeyLifetimeHours"] = "0.0002", // 0.72 s
            ["MindJourney:Idempotency:PruneIntervalSeconds"] = "0.1",
        });
        var session = await ApiCalls.StartSessionAsync(api);
        var key = NewKey();
        var (_, first, _) = await PostTextAsync(api.Client, session.Id, "once", key);

        await Uploads.WaitUntilAsync(async () => await api.ScalarAsync<long>(
            "SELECT count(*) FROM experiment_responses WHERE idempotency_key IS NOT NULL") == 0, "the answer's key is forgotten");

        var (status, again, _) = await PostTextAsync(api.Client, session.Id, "once", key);
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.NotEqual(first!.Id, again!.Id);
        Assert.Equal(2, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"));
    }

    private static string NewKey() => "answer-key-" + Guid.NewGuid();

    private static HttpRequestMessage TextRequest(Guid sessionId, string text, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/response")
        {
            Content = JsonContent.Create(
                new { sessionId, levelId = "1", questionId = "q1", responseType = "text", responseData = new { text } }),
        };
        request.Headers.Add("Idempotency-Key", key);
        return request;
    }

    private static HttpRequestMessage Upload(Guid sessionId, byte[] clip, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/response")
        {
            Content = Uploads.Multipart(Uploads.Fields(sessionId, "video"), clip),
        };
        request.Headers.Add("Idempotency-Key", key);
        return request;
    }

    private static async Task<(HttpStatusCode Status, ResponseDetails? Answer, string Json)> PostTextAsync(HttpClient client,
        Guid sessionId, string text, string key)
    {
        using var response = await client.SendAsync(TextRequest(sessionId, text, key));
        var json = await response.Content.ReadAsStringAsync();
        var created = response.StatusCode == HttpStatusCode.Created
            ? System.Text.Json.JsonDocument.Parse(json).RootElement.As<ResponseDetails>()
            : null;
        return (response.StatusCode, created, json);
    }

    private static ProblemDetails JsonContentOf(string body) =>
        System.Text.Json.JsonSerializer.Deserialize<ProblemDetails>(body,
            new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web))!;
}
