using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>Everything a client can send wrong gets a 4xx ProblemDetails, and nothing is written.</summary>
[Collection(PostgresCollection.Name)]
public sealed class BadInputTests(PostgresServer postgres) : IAsyncLifetime
{
    private TestApi _api = null!;
    private Guid _experimentId;
    private StartedSession _session = null!;

    public async ValueTask InitializeAsync()
    {
        _api = await TestApi.StartAsync(postgres);
        _experimentId = await _api.ActiveExperimentIdAsync();
        _session = await SessionNumberingTests.CreateSessionAsync(_api.Client, new { experimentId = _experimentId });
    }

    public async ValueTask DisposeAsync() => await _api.DisposeAsync();

    public static TheoryData<string, string, string, HttpStatusCode> BadSessionStarts => new()
    {
        { "malformed JSON", "application/json", "{\"experimentId\": ", HttpStatusCode.BadRequest },
        { "not JSON at all", "application/json", "experimentId=1", HttpStatusCode.BadRequest },
        { "wrong content type", "text/plain", "{}", HttpStatusCode.UnsupportedMediaType },
        { "missing experimentId", "application/json", "{}", HttpStatusCode.BadRequest },
        { "experimentId not a uuid", "application/json", "{\"experimentId\":\"abc\"}", HttpStatusCode.BadRequest },
        { "unknown experiment", "application/json", "{\"experimentId\":\"00000000-0000-0000-0000-00000000beef\"}",
            HttpStatusCode.NotFound },
        {
            "unknown user", "application/json",
            "{\"experimentId\":\"6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001\",\"userId\":\"00000000-0000-0000-0000-00000000beef\"}",
            HttpStatusCode.NotFound
        },
        {
            "level above the experiment's", "application/json",
            "{\"experimentId\":\"6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001\",\"currentLevel\":5}",
            HttpStatusCode.BadRequest
        },
        { "level zero", "application/json", "{\"experimentId\":\"6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001\",\"currentLevel\":0}",
            HttpStatusCode.BadRequest },
        { "level not a number", "application/json", "{\"experimentId\":\"6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001\",\"currentLevel\":\"two\"}",
            HttpStatusCode.BadRequest },
    };

    [Theory]
    [MemberData(nameof(BadSessionStarts))]
    public async Task A_bad_session_start_is_refused_and_writes_nothing(string why, string contentType, string body,
        HttpStatusCode expected)
    {
        var before = await SnapshotAsync();

        var response = await _api.Client.PostAsync("/api/session", new StringContent(body, Encoding.UTF8, contentType));

        await AssertProblemAsync(response, expected, why);
        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task An_oversized_body_is_refused_with_413()
    {
        var before = await SnapshotAsync();
        var huge = $"{{\"experimentId\":\"{_experimentId}\",\"sessionData\":\"{new string('x', 2 * 1024 * 1024)}\"}}";

        var response = await _api.Client.PostAsync("/api/session", new StringContent(huge, Encoding.UTF8, "application/json"));

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "2 MiB body");
        Assert.Equal(before, await SnapshotAsync());
    }

    [Theory]
    [InlineData("{\"visitorNumber\": 999}", "visitorNumber")]
    [InlineData("{\"visitorNumber\": null}", "visitorNumber")]
    [InlineData("{\"userId\": \"00000000-0000-0000-0000-000000000001\"}", "userId")]
    [InlineData("{\"id\": \"00000000-0000-0000-0000-000000000001\"}", "id")]
    [InlineData("{\"currentLevel\": 9}", "currentLevel")]
    [InlineData("{\"currentLevel\": 0}", "currentLevel")]
    [InlineData("{\"isCompleted\": \"yes\"}", "isCompleted")]
    public async Task A_patch_that_changes_identity_or_leaves_the_levels_is_refused(string body, string field)
    {
        var id = _session.Id;
        var before = await _api.ScalarAsync<string>($"SELECT row_to_json(s)::text FROM experiment_sessions s WHERE id = '{id}'");

        using var patch = new HttpRequestMessage(HttpMethod.Patch, $"/api/session/{id}")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json")
        };
        patch.Headers.Add(SessionSecretRequests.Header, _session.SessionSecret!);
        var response = await _api.Client.SendAsync(patch);

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, body);
        Assert.Contains(field, problem.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(before, await _api.ScalarAsync<string>($"SELECT row_to_json(s)::text FROM experiment_sessions s WHERE id = '{id}'"));
    }

    [Theory]
    [InlineData("GET", "/api/session/not-a-uuid")]
    [InlineData("GET", "/api/session/00000000-0000-0000-0000-00000000beef")]
    [InlineData("PATCH", "/api/session/00000000-0000-0000-0000-00000000beef")]
    [InlineData("GET", "/api/session/00000000-0000-0000-0000-00000000beef/responses")]
    [InlineData("GET", "/api/experiment/not-a-uuid/levels")]
    [InlineData("GET", "/api/experiment/00000000-0000-0000-0000-00000000beef/levels")]
    [InlineData("GET", "/api/level/00000000-0000-0000-0000-00000000beef")]
    public async Task Unknown_or_malformed_ids_get_404_problem_details(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Add(SessionSecretRequests.Header, new string('A', 43)); // a well-formed secret of no session
        if (method == "PATCH")
        {
            request.Content = JsonContent.Create(new { currentLevel = 2 });
        }

        await AssertProblemAsync(await _api.Client.SendAsync(request), HttpStatusCode.NotFound, path);
    }

    public static TheoryData<string, string> BadResponses => new()
    {
        { "no session", "{\"levelId\":\"1\",\"questionId\":\"q1\",\"responseType\":\"text\",\"responseData\":{}}" },
        { "unknown type",
            "{\"sessionId\":\"SESSION\",\"levelId\":\"1\",\"questionId\":\"q1\",\"responseType\":\"smell\",\"responseData\":{}}" },
        { "level id too long",
            "{\"sessionId\":\"SESSION\",\"levelId\":\"" + new string('l', 201) + "\",\"questionId\":\"q1\",\"responseType\":\"text\"}" },
        { "no question id", "{\"sessionId\":\"SESSION\",\"levelId\":\"1\",\"responseType\":\"text\"}" },
        { "malformed JSON", "{\"sessionId\":" },
    };

    [Theory]
    [MemberData(nameof(BadResponses))]
    public async Task A_bad_response_is_refused_and_writes_nothing(string why, string body)
    {
        body = body.Replace("SESSION", _session.Id.ToString(), StringComparison.Ordinal);

        var response = await _api.Client.PostAsync("/api/response", new StringContent(body, Encoding.UTF8, "application/json"));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, why);
        Assert.Equal(0, await _api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"));
    }

    [Fact]
    public async Task A_response_for_an_unknown_session_is_404()
    {
        var response = await _api.Client.PostAsJsonAsync("/api/response", new
        {
            sessionId = Guid.NewGuid(),
            levelId = "1",
            questionId = "q1",
            responseType = "text",
            responseData = new { text = "hi" },
        });

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "unknown session");
        Assert.Equal(0, await _api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"));
    }

    private Task<string> SnapshotAsync() => _api.ScalarAsync<string>("""
        SELECT (SELECT count(*) FROM users) || '/' || (SELECT count(*) FROM experiment_sessions) || '/' ||
               (SELECT last_value || ':' || is_called FROM visitor_counter_sequence)
        """);

    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode expected, string why)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"{why}: expected {(int)expected}, got {(int)response.StatusCode} {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal((int)expected, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()));
        return problem.Clone();
    }
}
