using System.Net;
using System.Net.Http.Json;
using MindJourney.Api.Experiments;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>A session's data (the session, its answers, its files) and its updates need the secret its start
/// returned, or the admin key; an id alone, which travels in logs and object names, opens nothing.</summary>
[Collection(PostgresCollection.Name)]
public sealed class SessionSecretTests(PostgresServer postgres) : IAsyncLifetime
{
    private const string AdminKey = "secret-tests-admin-key-91c2-e4a70b3d58f6";
    private const string WellFormedStranger = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"; // 32 zero bytes, base64url

    private TestApi _api = null!;
    private StartedSession _mine = null!;
    private StartedSession _theirs = null!;
    private Guid _theirFile;

    public async ValueTask InitializeAsync()
    {
        _api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?> { ["Admin:ApiKey"] = AdminKey });
        _mine = await ApiCalls.StartSessionAsync(_api);
        _theirs = await ApiCalls.StartSessionAsync(_api);
        _theirFile = (await ApiCalls.RecordTextAsync(_api.Client, _theirs.Id, "their private answer")).Id;
    }

    public async ValueTask DisposeAsync() => await _api.DisposeAsync();

    [Fact]
    public async Task The_secret_is_returned_once_by_the_start_and_never_stored_or_shown_again()
    {
        var secret = _mine.SessionSecret!;
        Assert.Equal(43, secret.Length); // 32 random bytes, base64url

        // The shape itself: a read carries no secret field at all, so it stays JSON here.
        var read = await _api.Client.GetFromJsonAsync($"/api/session/{_mine.Id}", secret);
        Assert.False(read.TryGetProperty("sessionSecret", out _));
        var stored = await _api.ScalarAsync<string>($"SELECT row_to_json(s)::text FROM experiment_sessions s WHERE id = '{_mine.Id}'");
        Assert.DoesNotContain(secret, stored, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> TheirData => new()
    {
        { "GET", "/api/session/{theirs}" },
        { "GET", "/api/session/{theirs}/responses" },
        { "PATCH", "/api/session/{theirs}" },
        { "GET", "/api/download/{file}" },
    };

    [Theory]
    [MemberData(nameof(TheirData))]
    public async Task Without_a_secret_the_answer_is_401_and_with_another_sessions_secret_404(string method, string template)
    {
        var path = template.Replace("{theirs}", _theirs.Id.ToString(), StringComparison.Ordinal)
            .Replace("{file}", _theirFile.ToString(), StringComparison.Ordinal);
        var before = await _api.ScalarAsync<string>($"SELECT row_to_json(s)::text FROM experiment_sessions s WHERE id = '{_theirs.Id}'");

        foreach (var (secret, expected) in new[]
        {
            ((string?)null, HttpStatusCode.Unauthorized),
            (_mine.SessionSecret, HttpStatusCode.NotFound),
            (WellFormedStranger, HttpStatusCode.NotFound),
            ("not base64 at all!", HttpStatusCode.NotFound),
        })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (method == "PATCH")
            {
                request.Content = JsonContent.Create(new { currentLevel = 3, isCompleted = true });
            }

            if (secret is not null)
            {
                request.Headers.Add(SessionSecretRequests.Header, secret);
            }

            using var response = await _api.Client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == expected,
                $"{method} {path} with {secret ?? "no secret"}: {(int)response.StatusCode} {text}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.DoesNotContain("their private answer", text, StringComparison.Ordinal);
        }

        Assert.Equal(before,
            await _api.ScalarAsync<string>($"SELECT row_to_json(s)::text FROM experiment_sessions s WHERE id = '{_theirs.Id}'"));
    }

    [Theory]
    [MemberData(nameof(TheirData))]
    public async Task The_owner_and_the_admin_may_read_and_update(string method, string template)
    {
        var path = template.Replace("{theirs}", _theirs.Id.ToString(), StringComparison.Ordinal)
            .Replace("{file}", _theirFile.ToString(), StringComparison.Ordinal);
        foreach (var (header, value) in new[] { (SessionSecretRequests.Header, _theirs.SessionSecret!),
            ("X-Admin-Key", AdminKey) })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (method == "PATCH")
            {
                request.Content = JsonContent.Create(new { currentLevel = 2 });
            }

            request.Headers.Add(header, value);
            using var response = await _api.Client.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{method} {path} as {header}: {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task The_original_clients_routes_need_no_secret()
    {
        var experiment = await _api.Client.GetAsAsync<ExperimentSummary>("/api/experiment");
        using var start = await _api.Client.PostAsJsonAsync("/api/session", new { experimentId = experiment.Id });
        var session = await start.Content.ReadAsAsync<StartedSession>();
        using var answer = await _api.Client.PostAsJsonAsync("/api/response", new
        {
            sessionId = session.Id,
            levelId = "level-1",
            questionId = "q1",
            responseType = "text",
            responseData = "{\"text\":\"no secret needed to answer\"}",
        });

        Assert.Equal(HttpStatusCode.Created, start.StatusCode);
        Assert.Equal(HttpStatusCode.Created, answer.StatusCode);
    }
}
