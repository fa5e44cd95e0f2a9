using System.Net;
using System.Net.Http.Json;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>PostgreSQL killed under a running API (the fault suite's scenario 1 found 500s here): every request that
/// needs it answers 503 with Retry-After, never 500, and the API serves again once the server is back.</summary>
public sealed class DatabaseOutageTests
{
    [Fact]
    public async Task While_PostgreSQL_is_dead_reads_and_updates_answer_503_and_serve_again_once_it_is_back()
    {
        await using var postgres = PostgresServer.Durable();
        await postgres.InitializeAsync();
        await using var api = await TestApi.StartAsync(postgres);
        var client = api.Client;
        var experimentId = await api.ActiveExperimentIdAsync();
        var started = await (await client.PostAsJsonAsync("/api/session", new { experimentId })).Content.ReadFromJsonAsync<StartedBody>();
        Assert.NotNull(started);

        await postgres.KillAsync();
        // The pool's connections die with the server: the first use of each meets a broken connection, later ones a
        // refused one. Both are the database being unreachable.
        for (var attempt = 0; attempt < 3; attempt++)
        {
            foreach (var response in new[]
            {
                await client.GetAsync("/api/experiment"),
                await client.SendAsync(new HttpRequestMessage(HttpMethod.Patch, $"/api/session/{started.Id}")
                {
                    Content = JsonContent.Create(new { currentLevel = 1 }),
                    Headers = { { "X-Session-Secret", started.SessionSecret } },
                }),
            })
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.NotNull(response.Headers.RetryAfter);
            }
        }

        await postgres.StartAgainAsync();
        var again = HttpStatusCode.ServiceUnavailable;
        for (var attempt = 0; attempt < 50 && again != HttpStatusCode.OK; attempt++)
        {
            again = (await client.GetAsync("/api/experiment")).StatusCode;
            await Task.Delay(100);
        }

        Assert.Equal(HttpStatusCode.OK, again);
    }

    private sealed record StartedBody(Guid Id, string SessionSecret);
}
