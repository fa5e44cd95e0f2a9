using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>A limit belongs to the endpoint that runs, not to how its path is spelled: every participant endpoint has
/// a per-client window, and every spelling that routing sends to an endpoint counts against that endpoint's limits
/// (uploads in flight and windows alike). Production-configured: every limit at its default, or (the window test) every
/// window as small as its list of spellings.</summary>
[Collection(PostgresCollection.Name)]
public sealed class EndpointLimitTests(PostgresServer postgres) : IAsyncLifetime
{
    /// <summary>The spellings of <c>/api/response</c> that ASP.NET Core routes to it (Kestrel decodes letters and removes
    /// dot segments; routing ignores case and one trailing slash). Duplicate slashes, <c>%2F</c> or a trailing <c>.</c>
    /// route nowhere (404), which the upload test checks as well.</summary>
    public static readonly string[] ResponseSpellings =
    [
        "/api/response", "/api/response/", "/API/Response", "/api/%72esponse", "/%61pi/re%73ponse/", "/api/./response",
        "/api/x/../response/", "/api/response/.", "/api/%2e/response", "/api/response?x=1",
    ];

    private static readonly string[] NotRouted =
        ["/api//response", "//api/response", "/api/response%2F", "/api/response.", "/api/response//"];

    private TestApi _api = null!;

    public async ValueTask InitializeAsync() => _api = await TestApi.StartAsync(postgres, productionLimits: true);

    public async ValueTask DisposeAsync() => await _api.DisposeAsync();

    [Fact]
    public void Every_participant_endpoint_has_a_per_client_window()
    {
        var endpoints = ParticipantEndpoints(_api).ToList();

        // The filter keeps what participants can reach (a filter that kept nothing would prove nothing).
        Assert.Superset(
            new HashSet<string>
            {
                "GetActiveExperiment", "GetExperimentLevels", "GetLevel", "CreateSession", "GetSession", "UpdateSession",
                "ListSessionResponses", "CreateResponse", "DownloadResponseFile",
            },
            endpoints.Select(e => e.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName ?? e.DisplayName ?? "").ToHashSet());
        Assert.All(endpoints, endpoint =>
        {
            var name = $"{string.Join(',', endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? [])} "
                + endpoint.RoutePattern.RawText;
            Assert.True(endpoint.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName is { Length: > 0 },
                $"{name} has no per-client rate-limit policy");
            Assert.True(endpoint.Metadata.GetMetadata<DisableRateLimitingAttribute>() is null, $"{name} turns rate limiting off");
        });
    }

    [Fact]
    public async Task Every_spelling_that_routes_to_the_upload_endpoint_counts_against_its_uploads_in_flight()
    {
        var server = _api.Hosts[0].ServerAddress;
        const string client = "127.0.0.21";

        // Each spelling reaches the answer endpoint: an answer for an unknown session is the handler's own 404.
        var answer = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new
        {
            sessionId = Guid.NewGuid(),
            levelId = "1",
            questionId = "q1",
            responseType = "text",
            responseData = "x",
        }));
        foreach (var target in ResponseSpellings)
        {
            var response = await RawHttp.SendAsync(server, client, "POST", target, answer, "Content-Type: application/json");
            Assert.True(response.Status == 404 && response.Body.Contains("No session with id", StringComparison.Ordinal),
                $"{target}: {response.Status} {response.Body}");
        }

        foreach (var target in NotRouted)
        {
            var response = await RawHttp.SendAsync(server, client, "POST", target, answer, "Content-Type: application/json");
            Assert.True(response.Status == 404 && response.Body.Contains("Nothing is found", StringComparison.Ordinal),
                $"{target}: {response.Status} {response.Body}");
        }

        // The default four slots, held with four spellings that are not the route's own.
        await using (var held = await HeldUploads.StartAsync(server, client, ResponseSpellings[1..5]))
        {
            await Uploads.WaitUntilAsync(async () =>
            {
                await held.ReplaceAnsweredAsync();
                return IsInFlightRefusal(await UploadAsync(server, client, ResponseSpellings[0]));
            }, "the four held uploads to take their client's slots");

            foreach (var target in ResponseSpellings)
            {
                var refused = await UploadAsync(server, client, target);
                Assert.True(IsInFlightRefusal(refused), $"{target}: {refused.Status} {refused.Body}");
                Assert.Equal("application/problem+json", refused.Header("Content-Type")?.Split(';')[0]);
                Assert.Equal("5", refused.Header("Retry-After"));
            }

            // Another client's uploads are its own: unknown session, so the handler answers 404.
            Assert.Equal(404, (await UploadAsync(server, "127.0.0.22", ResponseSpellings[1])).Status);
        }

        Assert.Equal(0, await _api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"));
    }

    [Fact]
    public async Task Every_spelling_of_every_participant_route_counts_against_its_window()
    {
        // Every window as small as the list of spellings, so that one more request shows whether each was counted.
        const int spellings = 7;
        await using var api = await TestApi.StartAsync(postgres, productionLimits: true,
            settings: new[] { "Sessions", "Responses", "Downloads", "Reads", "SessionUpdates", "ResponsePages" }
                .ToDictionary(window => $"MindJourney:RateLimit:{window}PerWindow", _ => (string?)$"{spellings}"));
        var server = api.Hosts[0].ServerAddress;
        var routes = ParticipantEndpoints(api).SelectMany(e => e.Metadata.GetMetadata<IHttpMethodMetadata>()!.HttpMethods
            .Select(method => (Method: method, Path: Concrete(e.RoutePattern.RawText!)))).ToList();
        Assert.True(routes.Count >= 9, $"{routes.Count} participant routes");

        var client = 0;
        foreach (var (method, path) in routes)
        {
            // Each route from an address of its own: its budget is untouched by the others'.
            var source = $"127.0.1.{++client}";
            var spelled = Spellings(path);
            Assert.Equal(spellings, spelled.Length);
            foreach (var target in spelled)
            {
                var counted = await SendAsync(server, source, method, target);
                Assert.True(counted.Status is not (404 or 405 or 429) || counted.Body.Contains("No ", StringComparison.Ordinal),
                    $"{method} {target}: {counted.Status} {counted.Body}");
            }

            var refused = await SendAsync(server, source, method, path);
            Assert.True(refused.Status == 429, $"{method} {path} after {spellings} spellings: {refused.Status} {refused.Body}");
            Assert.Equal("application/problem+json", refused.Header("Content-Type")?.Split(';')[0]);
            Assert.True(int.Parse(refused.Header("Retry-After")!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        }
    }

    /// <summary>The spellings routing sends to <paramref name="path"/>'s endpoint: Kestrel decodes percent-encoded
    /// letters and removes dot segments, routing ignores case (of the guid too) and one trailing slash.</summary>
    private static string[] Spellings(string path) =>
    [
        path,
        path.ToUpperInvariant(),
        path + "/",
        "/%61pi" + path[4..],
        "/api/." + path[4..],
        "/x/.." + path + "/.",
        "/Api" + path[4..].ToUpperInvariant() + "/",
    ];

    /// <summary>A route pattern with its parameters filled in (every one of them is a guid), without a trailing slash.</summary>
    private static string Concrete(string pattern) =>
        System.Text.RegularExpressions.Regex.Replace(pattern, "{[^}]+}", _ => Guid.NewGuid().ToString()).TrimEnd('/');

    private static IEnumerable<RouteEndpoint> ParticipantEndpoints(TestApi api) =>
        api.Hosts[0].Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => !IsOutsideTheParticipantApi(e.RoutePattern.RawText ?? ""));

    /// <summary>A request with an empty JSON object as its body where the method takes one: whatever it answers
    /// (400, 401, 404 for an unknown id), it reached its endpoint and was counted.</summary>
    private static Task<RawResponse> SendAsync(Uri server, string source, string method, string target) =>
        method is "GET"
            ? RawHttp.SendAsync(server, source, method, target)
            : RawHttp.SendAsync(server, source, method, target, "{}"u8.ToArray(), "Content-Type: application/json");

    private static bool IsOutsideTheParticipantApi(string pattern) =>
        pattern.StartsWith("/api/admin", StringComparison.OrdinalIgnoreCase)
        || pattern is "/health" or "/alive"
        || pattern.StartsWith("/openapi", StringComparison.OrdinalIgnoreCase)
        || pattern.StartsWith("/scalar", StringComparison.OrdinalIgnoreCase);

    /// <summary>Refused by the uploads-in-flight bound (not by the answers' window, which the probes also spend).</summary>
    private static bool IsInFlightRefusal(RawResponse response) =>
        response.Status == 429 && response.Body.Contains("uploads in progress", StringComparison.Ordinal);

    private static async Task<RawResponse> UploadAsync(Uri server, string source, string target)
    {
        using var form = Uploads.Multipart(Uploads.Fields(Guid.NewGuid(), "photo"), Uploads.RandomBytes(100, 1), "image/png");
        var body = await form.ReadAsByteArrayAsync();
        return await RawHttp.SendAsync(server, source, "POST", target, body, $"Content-Type: {form.Headers.ContentType}");
    }
}
