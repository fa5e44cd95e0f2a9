using System.Net;
using System.Net.Http.Json;
using MindJourney.Api.Infrastructure;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>Per-client limits see real clients: each source address has its own budget, a client cannot buy a new
/// one with an <c>X-Forwarded-For</c> of its choosing, a configured proxy's header is believed, an IPv6 /64 is one
/// client, and answers and downloads are limited like session starts.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ClientRateLimitTests(PostgresServer postgres)
{
    private const string Proxy = "127.0.0.4";
    private const string Limits = RateLimitOptions.SectionName + ":";
    private const string Proxies = TrustedProxiesOptions.SectionName + ":";

    [Fact]
    public async Task Each_client_address_has_its_own_session_budget()
    {
        await using var api = await StartAsync((Limits + "SessionsPerWindow", "2"));
        var experimentId = await api.ActiveExperimentIdAsync();
        using var first = SourceAddress.Client(api.Hosts[0].ServerAddress, "127.0.0.2");
        using var second = SourceAddress.Client(api.Hosts[0].ServerAddress, "127.0.0.3");

        Assert.Equal(new[] { 201, 201, 429 }, await StartSessionsAsync(first, experimentId, 3));
        Assert.Equal(new[] { 201, 201, 429 }, await StartSessionsAsync(second, experimentId, 3));
        Assert.Equal(4, await api.SequencePositionAsync());
    }

    [Theory]
    [InlineData("false")]
    [InlineData("true")] // the host's own switch (ASPNETCORE_FORWARDEDHEADERS_ENABLED), which would believe anyone
    public async Task A_forwarded_header_from_a_peer_that_is_not_a_configured_proxy_changes_nothing(string hostForwarding)
    {
        await using var api = await StartAsync((Limits + "SessionsPerWindow", "2"), ("ForwardedHeaders_Enabled", hostForwarding));
        var experimentId = await api.ActiveExperimentIdAsync();
        using var client = SourceAddress.Client(api.Hosts[0].ServerAddress, "127.0.0.2");

        // A new made-up address per request: all of them count against the connection's own address.
        var statuses = new List<int>();
        for (var i = 1; i <= 4; i++)
        {
            statuses.Add(await StartSessionAsync(client, experimentId, forwardedFor: $"203.0.113.{i}"));
        }

        Assert.Equal([201, 201, 429, 429], statuses);
    }

    [Theory]
    [InlineData("KnownProxies", Proxy)]
    [InlineData("KnownNetworks", "127.0.0.4/30")]
    public async Task A_configured_proxy_is_believed_and_only_it(string setting, string value)
    {
        await using var api = await StartAsync((Limits + "SessionsPerWindow", "2"), (Proxies + setting, value));
        var experimentId = await api.ActiveExperimentIdAsync();
        using var proxy = SourceAddress.Client(api.Hosts[0].ServerAddress, Proxy);
        using var stranger = SourceAddress.Client(api.Hosts[0].ServerAddress, "127.0.0.9");

        Assert.Equal(new[] { 201, 201, 429 }, await StartSessionsAsync(proxy, experimentId, 3, forwardedFor: "198.51.100.7"));
        Assert.Equal(201, await StartSessionAsync(proxy, experimentId, forwardedFor: "198.51.100.8"));
        // The stranger (not in the setting) claims to be a client that still has budget: it is itself, and spent.
        Assert.Equal(new[] { 201, 201, 429 }, await StartSessionsAsync(stranger, experimentId, 3, forwardedFor: "198.51.100.8"));
        // A proxy's own requests (no header) are a client of their own.
        Assert.Equal(201, await StartSessionAsync(proxy, experimentId));
    }

    [Fact]
    public async Task Behind_a_proxy_only_the_entry_it_wrote_counts()
    {
        await using var api = await StartAsync((Limits + "SessionsPerWindow", "1"), (Proxies + "KnownProxies", Proxy));
        var experimentId = await api.ActiveExperimentIdAsync();
        using var proxy = SourceAddress.Client(api.Hosts[0].ServerAddress, Proxy);

        // The client wrote its own first entry; the proxy appended the address it saw. Only the latter counts.
        Assert.Equal(201, await StartSessionAsync(proxy, experimentId, forwardedFor: "192.0.2.1, 198.51.100.7"));
        Assert.Equal(429, await StartSessionAsync(proxy, experimentId, forwardedFor: "192.0.2.2, 198.51.100.7"));
    }

    [Fact]
    public async Task IPv6_clients_of_one_64_share_a_budget()
    {
        await using var api = await StartAsync((Limits + "SessionsPerWindow", "2"), (Proxies + "KnownProxies", Proxy));
        var experimentId = await api.ActiveExperimentIdAsync();
        using var proxy = SourceAddress.Client(api.Hosts[0].ServerAddress, Proxy);

        Assert.Equal(201, await StartSessionAsync(proxy, experimentId, forwardedFor: "2001:db8:1:2::1"));
        Assert.Equal(201, await StartSessionAsync(proxy, experimentId, forwardedFor: "[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:51000"));
        Assert.Equal(429, await StartSessionAsync(proxy, experimentId, forwardedFor: "2001:db8:1:2:ffff::9"));
        Assert.Equal(201, await StartSessionAsync(proxy, experimentId, forwardedFor: "2001:db8:1:3::1"));
    }

    [Theory]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true)]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:3::1", false)]
    [InlineData("::ffff:192.0.2.1", "192.0.2.1", true)]
    [InlineData("192.0.2.1", "192.0.2.2", false)]
    public void The_partition_key_groups_IPv6_by_64_and_reads_mapped_IPv4_as_IPv4(string a, string b, bool same) =>
        Assert.Equal(same, ClientAddress.PartitionKey(IPAddress.Parse(a)) == ClientAddress.PartitionKey(IPAddress.Parse(b)));

    [Fact]
    public async Task Answers_are_limited_per_client_with_429_problem_and_Retry_After()
    {
        await using var api = await StartAsync((Limits + "ResponsesPerWindow", "2"));
        var experimentId = await api.ActiveExperimentIdAsync();
        var session = await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId });
        var answer = new
        {
            sessionId = session.Id,
            levelId = "1",
            questionId = "q1",
            responseType = "text",
            responseData = new { text = "x" },
        };
        using var first = SourceAddress.Client(api.Hosts[0].ServerAddress, "127.0.0.2");
        using var second = SourceAddress.Client(api.Hosts[0].ServerAddress, "127.0.0.3");

        var statuses = new List<int>();
        for (var i = 0; i < 2; i++)
        {
            statuses.Add((int)(await first.PostAsJsonAsync("/api/response", answer)).StatusCode);
        }

        using var refused = await first.PostAsJsonAsync("/api/response", answer);

        Assert.Equal([201, 201], statuses);
        await AssertRefusedAsync(refused, "responses");
        Assert.Equal(HttpStatusCode.Created, (await second.PostAsJsonAsync("/api/response", answer)).StatusCode);
        Assert.Equal(3, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"));
    }

    [Fact]
    public async Task Downloads_are_limited_per_client_with_429_problem_and_Retry_After()
    {
        await using var api = await StartAsync((Limits + "DownloadsPerWindow", "2"));
        using var first = SourceAddress.Client(api.Hosts[0].ServerAddress, "127.0.0.2");
        using var second = SourceAddress.Client(api.Hosts[0].ServerAddress, "127.0.0.3");
        var path = $"/api/download/{Guid.NewGuid()}";

        // Whatever a download answers (here: no secret), it counts; guessing ids is what the limit slows down.
        Assert.Equal(HttpStatusCode.Unauthorized, (await first.GetAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await first.GetAsync(path)).StatusCode);
        using var refused = await first.GetAsync(path);

        await AssertRefusedAsync(refused, "downloads");
        Assert.Equal(HttpStatusCode.Unauthorized, (await second.GetAsync(path)).StatusCode);
    }

    [Fact]
    public async Task A_proxy_setting_that_is_not_an_address_stops_the_start()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() =>
            StartAsync((Proxies + "KnownProxies", "10.0.0.1, proxy.example")));

        Assert.Contains("KnownProxies has 'proxy.example'", error.ToString(), StringComparison.Ordinal);
    }

    private Task<TestApi> StartAsync(params (string Key, string Value)[] settings) =>
        TestApi.StartAsync(postgres, settings: settings.ToDictionary(s => s.Key, s => (string?)s.Value));

    private static async Task<int[]> StartSessionsAsync(HttpClient client, Guid experimentId, int count, string? forwardedFor = null)
    {
        var statuses = new int[count];
        for (var i = 0; i < count; i++)
        {
            statuses[i] = await StartSessionAsync(client, experimentId, forwardedFor);
        }

        return statuses;
    }

    private static async Task<int> StartSessionAsync(HttpClient client, Guid experimentId, string? forwardedFor = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/session") { Content = JsonContent.Create(new { experimentId }) };
        if (forwardedFor is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", forwardedFor);
        }

        using var response = await client.SendAsync(request);
        if (response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            await AssertRefusedAsync(response, "sessions");
        }

        return (int)response.StatusCode;
    }

    private static async Task AssertRefusedAsync(HttpResponseMessage response, string what)
    {
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero, "Retry-After tells the client when to come back");
        var problem = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        Assert.Equal(429, problem.GetProperty("status").GetInt32());
        Assert.Contains(what, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
