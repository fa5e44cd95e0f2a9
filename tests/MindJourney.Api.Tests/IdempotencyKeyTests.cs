using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Mvc;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>An Idempotency-Key never weakens the one who holds its session: replays never drop the first secret (the
/// first 8 get one each, later ones none), a key shorter than 16 characters is refused, and the database keeps only
/// the key's HMAC under the server's signing key, without which the API does not start. Against a Production API
/// with every per-client limit at its default.</summary>
[Collection(PostgresCollection.Name)]
public sealed class IdempotencyKeyTests(PostgresServer postgres)
{
    private const string SigningKeySetting = "MindJourney:Idempotency:SigningKey";

    [Fact]
    public async Task Replays_never_lock_the_first_holder_out_and_past_the_eighth_they_get_no_secret()
    {
        await using var api = await TestApi.StartAsync(postgres, productionLimits: true);
        var experimentId = await api.ActiveExperimentIdAsync();
        var key = Guid.NewGuid().ToString();
        var first = await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId }, key);

        var replays = new List<StartedSession>();
        for (var i = 0; i < 10; i++)
        {
            replays.Add(await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId }, key));
        }

        var id = first.Id;
        Assert.All(replays, r => Assert.Equal(id, r.Id));
        var secrets = replays.Take(8).Select(r => r.SessionSecret).Prepend(first.SessionSecret).ToList();
        Assert.All(secrets, Assert.NotNull);
        Assert.Equal(9, secrets.Distinct().Count());
        foreach (var late in replays.Skip(8))
        {
            Assert.Null(late.SessionSecret); // sessionSecret is required: written as null
        }

        foreach (var secret in secrets)
        {
            using var read = await api.Client.GetAsync($"/api/session/{id}", secret!);
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }

        Assert.Equal(1, await api.SequencePositionAsync());
        Assert.Equal(9, await api.ScalarAsync<int>($"SELECT cardinality(secret_hashes) FROM experiment_sessions WHERE id = '{id}'"));
    }

    [Fact]
    public async Task A_key_shorter_than_16_characters_is_refused_with_400_and_starts_nothing()
    {
        await using var api = await TestApi.StartAsync(postgres, productionLimits: true);
        var experimentId = await api.ActiveExperimentIdAsync();

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/session") { Content = JsonContent.Create(new { experimentId }) };
        request.Headers.Add("Idempotency-Key", new string('k', 15));
        using var refused = await api.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        var problem = await refused.Content.ReadAsAsync<ProblemDetails>();
        Assert.Contains("16", problem.Detail, StringComparison.Ordinal);
        Assert.Equal(0, await api.SequencePositionAsync());
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_sessions"));
        await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId }, new string('k', 16));
    }

    [Fact]
    public async Task The_database_keeps_the_keys_HMAC_never_the_key_as_sent_and_a_replay_still_finds_its_session()
    {
        await using var api = await TestApi.StartAsync(postgres, productionLimits: true);
        var experimentId = await api.ActiveExperimentIdAsync();
        var key = "a-participant's-click-" + Guid.NewGuid();
        var first = await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId }, key);
        var replay = await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId }, key);

        var stored = await api.ScalarAsync<string>("SELECT string_agg(idempotency_key, ' ') FROM experiment_sessions");
        var rows = await api.ScalarAsync<string>("SELECT string_agg(row_to_json(s)::text, ' ') FROM experiment_sessions s");
        Assert.Equal(ApiHost.StoredIdempotencyKey(key), stored);
        Assert.DoesNotContain(key, rows, StringComparison.Ordinal);
        Assert.Equal(first.Id, replay.Id);
        Assert.Equal(1, await api.SequencePositionAsync());
    }

    [Theory]
    [InlineData("")]
    [InlineData("0123456789abcdef0123456789abcde")] // 31 characters
    public async Task The_API_does_not_start_without_a_signing_key_of_32_characters_and_names_the_setting(string signingKey)
    {
        var connectionString = await postgres.CreateDatabaseAsync();
        await using var host = new ApiHost(connectionString, new Dictionary<string, string?> { [SigningKeySetting] = signingKey });

        var refused = Assert.ThrowsAny<Exception>(host.StartServer);

        Assert.Contains(SigningKeySetting, refused.ToString(), StringComparison.Ordinal);
    }
}
