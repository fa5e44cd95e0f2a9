using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using MindJourney.Api.Experiments;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>Every participant route has a per-client budget at its production default: reads of the experiment,
/// levels and sessions, session updates and pages of answers each answer 429 past theirs. An exempt network (a lab
/// behind one NAT address) skips the windows but never the uploads-in-flight bound. A session's secret is checked
/// before the endpoint runs: a value that cannot be a secret costs no query, and a caller without one is refused
/// before its body is read.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ParticipantRouteLimitTests(PostgresServer postgres) : IAsyncLifetime
{
    private TestApi _api = null!;

    public async ValueTask InitializeAsync() => _api = await TestApi.StartAsync(postgres, productionLimits: true);

    public async ValueTask DisposeAsync() => await _api.DisposeAsync();

    [Fact]
    public async Task Reads_of_experiments_levels_and_sessions_share_a_budget_of_120_per_client()
    {
        using var client = SourceAddress.Client(_api.Hosts[0].ServerAddress, "127.0.0.31");
        using var other = SourceAddress.Client(_api.Hosts[0].ServerAddress, "127.0.0.32");
        var session = await StartSessionAsync(client, other);
        var (id, secret) = (session.Id, session.SessionSecret!);
        var levels = await other.GetAsAsync<List<LevelDetails>>($"/api/experiment/{session.ExperimentId}/levels");
        var reads = new[]
        {
            () => client.GetAsync("/api/experiment"),
            () => client.GetAsync($"/api/experiment/{session.ExperimentId}/levels"),
            () => client.GetAsync($"/api/level/{levels[0].Id}"),
            () => client.GetAsync($"/api/session/{id}", secret),
        };

        for (var i = 0; i < 120; i++)
        {
            using var read = await reads[i % reads.Length]();
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }

        foreach (var read in reads)
        {
            using var refused = await read();
            await AssertRefusedAsync(refused, "reads");
        }

        using var othersRead = await other.GetAsync($"/api/session/{id}", secret);
        Assert.Equal(HttpStatusCode.OK, othersRead.StatusCode);
    }

    [Fact]
    public async Task Session_updates_are_limited_to_60_per_client()
    {
        using var client = SourceAddress.Client(_api.Hosts[0].ServerAddress, "127.0.0.33");
        var session = await StartSessionAsync(client);
        var (path, secret) = ($"/api/session/{session.Id}", session.SessionSecret!);

        for (var i = 0; i < 60; i++)
        {
            using var update = await client.PatchAsJsonAsync(path, new { currentLevel = 1 + (i % 2) }, secret);
            Assert.Equal(HttpStatusCode.OK, update.StatusCode);
        }

        using var refused = await client.PatchAsJsonAsync(path, new { currentLevel = 3 }, secret);
        await AssertRefusedAsync(refused, "session updates");
        var level = await _api.ScalarAsync<int>($"SELECT current_level FROM experiment_sessions WHERE id = '{session.Id}'");
        Assert.Equal(2, level);

        // Updates have their own budget: reading the session still works.
        using var read = await client.GetAsync(path, secret);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    [Fact]
    public async Task Pages_of_answers_are_limited_to_30_per_client()
    {
        using var client = SourceAddress.Client(_api.Hosts[0].ServerAddress, "127.0.0.34");
        var session = await StartSessionAsync(client);
        var (path, secret) = ($"/api/session/{session.Id}", session.SessionSecret!);

        for (var i = 0; i < 30; i++)
        {
            using var page = await client.GetAsync(path + "/responses?limit=1", secret);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        }

        using var refused = await client.GetAsync(path + "/responses", secret);
        await AssertRefusedAsync(refused, "pages of answers");
        using var read = await client.GetAsync(path, secret);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    [Fact]
    public async Task An_exempt_network_skips_the_windows_but_not_the_uploads_in_flight_bound()
    {
        await using var api = await TestApi.StartAsync(postgres, productionLimits: true, settings: new Dictionary<string, string?>
        {
            ["MindJourney:RateLimit:ExemptNetworks"] = "10.20.0.0/16, 127.0.0.40/30",
            ["MindJourney:RateLimit:ReadsPerWindow"] = "2",
            ["MindJourney:RateLimit:SessionsPerWindow"] = "1",
        });
        var server = api.Hosts[0].ServerAddress;
        using var lab = SourceAddress.Client(server, "127.0.0.41");
        using var stranger = SourceAddress.Client(server, "127.0.0.45");
        var experimentId = await api.ActiveExperimentIdAsync(lab);

        for (var i = 0; i < 5; i++)
        {
            using var read = await lab.GetAsync("/api/experiment");
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            await SessionNumberingTests.CreateSessionAsync(lab, new { experimentId });
        }

        Assert.Equal(HttpStatusCode.OK, (await stranger.GetAsync("/api/experiment")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await stranger.GetAsync("/api/experiment")).StatusCode);
        await AssertRefusedAsync(await stranger.GetAsync("/api/experiment"), "reads");

        // The lab's clients still share four uploads in progress.
        await using var held = await HeldUploads.StartAsync(server, "127.0.0.41", "/api/response", "/api/response", "/api/response",
            "/api/response");
        await Uploads.WaitUntilAsync(async () =>
        {
            await held.ReplaceAnsweredAsync();
            using var probe = await lab.PostAsync("/api/response",
                Uploads.Multipart(Uploads.Fields(Guid.NewGuid(), "photo"), Uploads.RandomBytes(100, 1), "image/png"));
            return probe.StatusCode == HttpStatusCode.TooManyRequests;
        }, "the lab's four held uploads to take its slots");
        using var refused = await lab.PostAsync("/api/response",
            Uploads.Multipart(Uploads.Fields(Guid.NewGuid(), "photo"), Uploads.RandomBytes(100, 2), "image/png"));
        await AssertRefusedAsync(refused, "uploads in progress");
    }

    [Fact]
    public async Task An_exempt_network_that_is_not_a_CIDR_range_stops_the_start()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => TestApi.StartAsync(postgres, productionLimits: true,
            settings: new Dictionary<string, string?> { ["MindJourney:RateLimit:ExemptNetworks"] = "10.0.0.0/8, lab-nat" }));

        Assert.Contains("MindJourney:RateLimit:ExemptNetworks has 'lab-nat'", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_value_that_cannot_be_a_secret_is_refused_without_a_database_query()
    {
        using var client = SourceAddress.Client(_api.Hosts[0].ServerAddress, "127.0.0.35");
        var session = await StartSessionAsync(client);
        var path = $"/api/session/{session.Id}";
        using var commands = new CommandRecorder();

        string[] malformed = ["not base64 at all!", new string('A', 42), new string('A', 44), "AAAA", "+" + new string('A', 42)];
        var malformedTraces = new List<ActivityTraceId>();
        foreach (var secret in malformed)
        {
            var (response, trace) = await SendTracedAsync(path, secret);
            AssertNotFound(response);
            malformedTraces.Add(trace);
        }

        // The control: a secret of the right form that is not this session's is looked up, and answered the same.
        var (wrong, wrongTrace) = await SendTracedAsync(path, new string('A', 43));
        AssertNotFound(wrong);

        Assert.True(commands.CountFor(wrongTrace) > 0, "the well-formed secret was looked up in the database");
        Assert.All(malformedTraces, trace => Assert.Equal(0, commands.CountFor(trace)));
    }

    /// <summary>Over a plain socket: HttpClient's own tracing would replace the <c>traceparent</c> it is given.</summary>
    private async Task<(RawResponse Response, ActivityTraceId Trace)> SendTracedAsync(string path, string secret)
    {
        var trace = ActivityTraceId.CreateRandom();
        var response = await RawHttp.SendAsync(_api.Hosts[0].ServerAddress, "127.0.0.35", "GET", path, null,
            $"traceparent: 00-{trace}-{ActivitySpanId.CreateRandom()}-01", $"{SessionSecretRequests.Header}: {secret}");
        return (response, trace);
    }

    private static void AssertNotFound(RawResponse response)
    {
        Assert.Equal(404, response.Status);
        Assert.Equal("application/problem+json", response.Header("Content-Type")?.Split(';')[0]);
        var problem = JsonSerializer.Deserialize<ProblemDetails>(response.Body, ApiContracts.Json)!;
        Assert.StartsWith("No session with id", problem.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_PATCH_without_a_secret_is_answered_401_before_its_body_is_read()
    {
        using var client = SourceAddress.Client(_api.Hosts[0].ServerAddress, "127.0.0.36");
        var session = await StartSessionAsync(client);
        var id = session.Id;
        var before = await _api.ScalarAsync<string>($"SELECT row_to_json(s)::text FROM experiment_sessions s WHERE id = '{id}'");

        // A 900 KB body of which only the first kilobyte is ever sent: the answer cannot wait for the rest.
        using var socket = await RawHttp.ConnectAsync(_api.Hosts[0].ServerAddress, "127.0.0.36");
        await socket.SendAsync(Encoding.ASCII.GetBytes(
            RawHttp.Head("PATCH", $"/api/session/{id}", 900_000, "Content-Type: application/json")
            + "{\"currentLevel\":3,\"sessionData\":\"" + new string('a', 1000)));
        var response = await RawHttp.ReadResponseAsync(socket, TimeSpan.FromSeconds(4));

        Assert.Equal(401, response.Status);
        Assert.Equal("application/problem+json", response.Header("Content-Type")?.Split(';')[0]);
        var problem = JsonSerializer.Deserialize<ProblemDetails>(response.Body, ApiContracts.Json)!;
        Assert.Equal(401, problem.Status);
        Assert.Contains("X-Session-Secret", problem.Detail, StringComparison.Ordinal);
        Assert.Equal(before,
            await _api.ScalarAsync<string>($"SELECT row_to_json(s)::text FROM experiment_sessions s WHERE id = '{id}'"));
    }

    /// <summary>A session started by <paramref name="client"/>; the experiment looked up by <paramref name="reader"/>, so
    /// that read is not spent from the client's budget when it matters.</summary>
    private async Task<StartedSession> StartSessionAsync(HttpClient client, HttpClient? reader = null) =>
        await SessionNumberingTests.CreateSessionAsync(client, new { experimentId = await _api.ActiveExperimentIdAsync(reader ?? client) });

    private static async Task AssertRefusedAsync(HttpResponseMessage response, string what)
    {
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero, "Retry-After tells the client when to come back");
        var problem = await response.Content.ReadAsAsync<ProblemDetails>();
        Assert.Equal(429, problem.Status);
        Assert.Contains(what, problem.Detail, StringComparison.Ordinal);
    }

    /// <summary>Records the database commands (Npgsql's spans) each request causes, by the trace the request carries in
    /// its <c>traceparent</c> header: the API runs in this process, so its spans reach this listener.</summary>
    private sealed class CommandRecorder : IDisposable
    {
        private readonly ActivityListener _listener;
        private readonly ConcurrentQueue<ActivityTraceId> _commands = new();

        public CommandRecorder()
        {
            _listener = new ActivityListener
            {
                // The request's own span too, so that it takes the trace id the request names.
                ShouldListenTo = source => source.Name is "Npgsql" or "Microsoft.AspNetCore",
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = activity =>
                {
                    if (activity.Source.Name == "Npgsql")
                    {
                        _commands.Enqueue(activity.TraceId);
                    }
                },
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public int CountFor(ActivityTraceId trace) => _commands.Count(t => t == trace);

        public void Dispose() => _listener.Dispose();
    }
}
