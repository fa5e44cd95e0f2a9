using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using MindJourney.Api.Responses;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>A session id does not reveal its person, and a person's id alone does not make anyone them: the answer to
/// an answer names no <c>userId</c>, and resuming a person takes the secret of one of their sessions or the admin key.
/// Without it the answer is the 404 of a person who does not exist, and nothing is written or drawn. Against a
/// Production API with every per-client limit at its default.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PersonProofTests(PostgresServer postgres)
{
    private const string AdminKey = "person-proof-tests-admin-key-5d0e8b7c41a2";
    private const string WellFormedStranger = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"; // 32 zero bytes, base64url

    private Task<TestApi> StartAsync() =>
        TestApi.StartAsync(postgres, settings: new Dictionary<string, string?> { ["Admin:ApiKey"] = AdminKey }, productionLimits: true);

    [Fact]
    public async Task The_answer_to_POST_response_names_no_person()
    {
        await using var api = await StartAsync();
        var session = await ApiCalls.StartSessionAsync(api);
        var sessionId = session.Id;

        using var email = await api.Client.PostAsJsonAsync("/api/response",
            new { sessionId, levelId = "1", questionId = "q1", responseType = "email", responseData = "someone@example.org" });
        var text = await Uploads.PostTextJsonAsync(api.Client, sessionId, new { text = "an answer" });
        var voice = await Uploads.PostCreatedJsonAsync(api.Client, Uploads.Multipart(Uploads.Fields(sessionId, "voice"),
            Uploads.RandomBytes(2048, 1), "audio/webm", "name=\"file\"; filename=\"note.webm\""));

        Assert.Equal(HttpStatusCode.Created, email.StatusCode);
        var userId = session.UserId.ToString();
        // The shape itself is the point here (no userId field, these fields by these names), so it stays JSON.
        foreach (var created in new[] { await email.Content.ReadFromJsonAsync<JsonElement>(), text, voice })
        {
            Assert.False(created.TryGetProperty("userId", out _), created.ToString());
            Assert.DoesNotContain(userId, created.GetRawText(), StringComparison.OrdinalIgnoreCase);
            foreach (var name in new[] { "id", "responseType", "responseData", "createdAt" })
            {
                Assert.True(created.TryGetProperty(name, out _), $"{name} is missing: {created}");
            }

            // The rest is as before: what the page and the seed's contract read.
            var recorded = created.As<ResponseDetails>();
            Assert.Equal(sessionId, recorded.SessionId);
            Assert.Equal(session.VisitorNumber!.Value, recorded.VisitorNumber);
        }

        Assert.Equal("pending", voice.As<ResponseDetails>().Storage.Status);
        Assert.Equal("an answer", text.As<ResponseDetails>().ResponseData.GetProperty("text").GetString());
    }

    [Fact]
    public async Task Without_proof_resuming_a_person_answers_the_404_of_a_person_who_does_not_exist_and_draws_nothing()
    {
        await using var api = await StartAsync();
        var experimentId = await api.ActiveExperimentIdAsync();
        var owner = await ApiCalls.StartSessionAsync(api.Client, new { experimentId });
        var stranger = await ApiCalls.StartSessionAsync(api.Client, new { experimentId });
        var ownerId = owner.UserId;
        var before = await SnapshotAsync(api);

        var unknown = await StartAsync(api, experimentId, Guid.NewGuid(), header: null);
        Assert.Equal(HttpStatusCode.NotFound, unknown.Status);
        Assert.Equal("application/problem+json", unknown.MediaType);

        foreach (var (why, header) in new (string, (string, string)?)[]
        {
            ("no proof", null),
            ("another person's secret", (SessionSecretRequests.Header, stranger.SessionSecret!)),
            ("a well-formed secret of nobody", (SessionSecretRequests.Header, WellFormedStranger)),
            ("a malformed secret", (SessionSecretRequests.Header, "not a secret")),
            ("a wrong admin key", ("X-Admin-Key", "not-the-admin-key-but-long-enough-to-look-real")),
        })
        {
            var refused = await StartAsync(api, experimentId, ownerId, header);
            Assert.True(refused.Status == HttpStatusCode.NotFound, $"{why}: {(int)refused.Status} {refused.Problem}");
            Assert.Equal(unknown.MediaType, refused.MediaType);
            Assert.Equal(unknown.Problem, refused.Problem);
        }

        // Also with an Idempotency-Key: a refused resume stores nothing a later request could replay.
        var keyed = await StartAsync(api, experimentId, ownerId, header: null, idempotencyKey: Guid.NewGuid().ToString());
        Assert.Equal(unknown.Problem, keyed.Problem);
        Assert.Equal(before, await SnapshotAsync(api));
    }

    [Fact]
    public async Task A_secret_of_any_of_the_persons_sessions_or_the_admin_key_resumes_them_and_another_persons_does_not()
    {
        await using var api = await StartAsync();
        var experimentId = await api.ActiveExperimentIdAsync();
        var first = await ApiCalls.StartSessionAsync(api.Client, new { experimentId });
        var other = await ApiCalls.StartSessionAsync(api.Client, new { experimentId });
        var userId = first.UserId;

        var second = await ApiCalls.StartSessionAsync(api.Client, new { experimentId, userId }, secret: first.SessionSecret);
        var third = await ApiCalls.StartSessionAsync(api.Client, new { experimentId, userId }, secret: second.SessionSecret);
        var byFirstAgain = await ApiCalls.StartSessionAsync(api.Client, new { experimentId, userId }, secret: first.SessionSecret);
        var byAdmin = await StartAsync(api, experimentId, userId, ("X-Admin-Key", AdminKey));
        var byBearer = await StartAsync(api, experimentId, userId, ("Authorization", "Bearer " + AdminKey));
        var byOther = await StartAsync(api, experimentId, userId, (SessionSecretRequests.Header, other.SessionSecret!));

        Assert.Equal(HttpStatusCode.Created, byAdmin.Status);
        Assert.Equal(HttpStatusCode.Created, byBearer.Status);
        Assert.Equal(HttpStatusCode.NotFound, byOther.Status);
        foreach (var resumed in new[] { second, third, byFirstAgain, byAdmin.Body!, byBearer.Body! })
        {
            Assert.Equal(userId, resumed.UserId);
            Assert.Equal(first.VisitorNumber!.Value, resumed.VisitorNumber);
            Assert.Equal(first.Condition, resumed.Condition);
            Assert.NotEqual(first.Id, resumed.Id);
        }

        Assert.Equal(2, await api.SequencePositionAsync());
        Assert.Equal(6, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_sessions WHERE user_id = '{userId}'"));
    }

    private sealed record Answer(HttpStatusCode Status, string? MediaType, string Problem, StartedSession? Body);

    /// <summary>Starts a session for <paramref name="userId"/> with the given proof header; a problem comes back with
    /// what differs between requests by nature (the trace id, the userId asked for) masked.</summary>
    private static async Task<Answer> StartAsync(TestApi api, Guid experimentId, Guid userId, (string Name, string Value)? header,
        string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/session")
        {
            Content = JsonContent.Create(new { experimentId, userId }),
        };
        if (header is { } h)
        {
            request.Headers.TryAddWithoutValidation(h.Name, h.Value);
        }

        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        using var response = await api.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (response.StatusCode == HttpStatusCode.Created)
        {
            return new Answer(response.StatusCode, mediaType, "", JsonSerializer.Deserialize<StartedSession>(text, ApiContracts.Json));
        }

        var problem = JsonNode.Parse(text)!.AsObject();
        problem.Remove("traceId");
        var masked = problem.ToJsonString().Replace(userId.ToString(), "{userId}", StringComparison.OrdinalIgnoreCase);
        return new Answer(response.StatusCode, mediaType, masked, null);
    }

    /// <summary>Everything a refused start could have changed: the sequence, users, sessions and stored keys.</summary>
    private static async Task<string> SnapshotAsync(TestApi api) => await api.ScalarAsync<string>("""
        SELECT concat_ws(' ',
            (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM visitor_counter_sequence),
            (SELECT count(*) FROM users), (SELECT count(*) FROM experiment_sessions),
            (SELECT count(*) FROM experiment_sessions WHERE idempotency_key IS NOT NULL),
            (SELECT coalesce(sum(cardinality(secret_hashes)), 0) FROM experiment_sessions))
        """);
}
