using System.Net;
using System.Net.Http.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using MindJourney.Api.Experiments;
using MindJourney.Testing;

namespace MindJourney.AppHost.Tests;

/// <summary>Under the AppHost the API sees each participant's own address (Aspire's proxy is a TCP proxy that would
/// hide it), so with the limit on every client has its own budget, and a client's own <c>X-Forwarded-For</c> is not
/// believed.</summary>
public sealed class ClientAddressTests
{
    [Fact]
    public async Task With_the_session_limit_on_each_client_has_its_own_budget_and_a_spoofed_header_changes_nothing()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await using var host = await LocalAppHost.StartAsync("clients",
            [.. LocalAppHost.Local, "MindJourney:RateLimit:SessionsPerWindow=2"], timeout.Token);

        var api = host.App.GetEndpoint("api", "http");
        using var first = SourceAddress.Client(api, "127.0.0.2");
        using var second = SourceAddress.Client(api, "127.0.0.3");
        var experimentId = (await first.GetAsAsync<ExperimentSummary>("/api/experiment", timeout.Token)).Id;

        Assert.Equal(HttpStatusCode.Created, await StartSessionAsync(first, experimentId, null, timeout.Token));
        Assert.Equal(HttpStatusCode.Created, await StartSessionAsync(first, experimentId, null, timeout.Token));
        Assert.Equal(HttpStatusCode.TooManyRequests, await StartSessionAsync(first, experimentId, null, timeout.Token));
        Assert.Equal(HttpStatusCode.TooManyRequests, await StartSessionAsync(first, experimentId, "203.0.113.1", timeout.Token));
        Assert.Equal(HttpStatusCode.TooManyRequests, await StartSessionAsync(first, experimentId, "203.0.113.2", timeout.Token));
        Assert.Equal(HttpStatusCode.Created, await StartSessionAsync(second, experimentId, null, timeout.Token));
    }

    /// <summary>Several replicas share the port through Aspire's TCP proxy, which passes headers through: with loopback
    /// named as a known proxy (a reverse proxy on this machine writes the header), the header's client is the client.
    /// </summary>
    [Fact]
    public async Task Several_replicas_behind_a_local_reverse_proxy_see_the_client_it_forwards()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await using var host = await LocalAppHost.StartAsync("replicas", [.. LocalAppHost.Local, "MindJourney:ApiReplicas=2",
            "MindJourney:RateLimit:SessionsPerWindow=1", "MindJourney:ForwardedHeaders:KnownProxies=127.0.0.1,::1"], timeout.Token);

        // One connection, kept alive, reaches one replica: each forwarded client has its own budget there.
        using var frontProxy = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1 })
        {
            BaseAddress = host.App.GetEndpoint("api", "http"),
        };
        var experimentId = (await frontProxy.GetAsAsync<ExperimentSummary>("/api/experiment", timeout.Token)).Id;

        Assert.Equal(HttpStatusCode.Created, await StartSessionAsync(frontProxy, experimentId, "198.51.100.1", timeout.Token));
        Assert.Equal(HttpStatusCode.TooManyRequests, await StartSessionAsync(frontProxy, experimentId, "198.51.100.1", timeout.Token));
        Assert.Equal(HttpStatusCode.Created, await StartSessionAsync(frontProxy, experimentId, "198.51.100.2", timeout.Token));
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(3, true)]
    public async Task One_replica_listens_on_the_port_itself_and_several_share_it_through_the_proxy(int replicas, bool proxied)
    {
        var port = Ports.Free();
        await using var builder = await LocalAppHost.DescribeAsync(
            [.. LocalAppHost.Local, $"MindJourney:ApiReplicas={replicas}", $"MindJourney:ApiPort={port}"]);

        var api = Assert.Single(builder.Resources.OfType<ProjectResource>(), r => r.Name == "api");
        var endpoint = Assert.Single(api.Annotations.OfType<EndpointAnnotation>(), e => e.Name == "http");
        Assert.Equal(proxied, endpoint.IsProxied);
        Assert.Equal(port, endpoint.Port);
        Assert.Equal(proxied ? null : port, endpoint.TargetPort);
    }

    private static async Task<HttpStatusCode> StartSessionAsync(HttpClient client, Guid experimentId, string? forwardedFor,
        CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/session") { Content = JsonContent.Create(new { experimentId }) };
        if (forwardedFor is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", forwardedFor);
        }

        using var response = await client.SendAsync(request, cancellationToken);
        return response.StatusCode;
    }
}
