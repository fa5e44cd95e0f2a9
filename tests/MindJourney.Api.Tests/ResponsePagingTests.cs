using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MindJourney.Testing;
using Npgsql;

namespace MindJourney.Api.Tests;

/// <summary>A session's responses come a page at a time (the body stays a JSON array, the next page is in a Link
/// header), and readiness probes share one database check per second.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ResponsePagingTests(PostgresServer postgres)
{
    [Fact]
    public async Task Responses_come_in_pages_that_together_are_the_whole_list_in_order()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var session = await Uploads.NewSessionAsync(api);
        var sessionId = session.GetProperty("id").GetGuid();
        for (var i = 0; i < 105; i += 15)
        {
            await Task.WhenAll(Enumerable.Range(i, 15).Select(async n =>
            {
                using var created = await api.Client.PostAsJsonAsync("/api/response",
                    new { sessionId, levelId = "1", questionId = $"q{n}", responseType = "email", responseData = $"p{n}@example.org" });
                Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            }));
        }

        // The default page is 100, with a link to the rest.
        using var first = await api.Client.GetAsync($"/api/session/{sessionId}/responses", SessionSecretRequests.SecretOf(session));
        var firstPage = await first.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(100, firstPage.GetArrayLength());
        Assert.NotNull(NextLink(first));

        var paged = new List<Guid>();
        var next = $"/api/session/{sessionId}/responses?limit=40";
        var pages = 0;
        while (next is not null)
        {
            using var page = await api.Client.GetAsync(next, SessionSecretRequests.SecretOf(session));
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            var items = await page.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(items.GetArrayLength() <= 40);
            paged.AddRange(items.EnumerateArray().Select(r => r.GetProperty("id").GetGuid()));
            next = NextLink(page);
            pages++;
        }

        Assert.Equal(3, pages);
        var expected = new List<Guid>();
        await using (var connection = new NpgsqlConnection(api.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                $"SELECT id FROM experiment_responses WHERE session_id = '{sessionId}' ORDER BY created_at, id", connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                expected.Add(reader.GetGuid(0));
            }
        }

        Assert.Equal(105, expected.Count);
        Assert.Equal(expected, paged);
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=501")]
    [InlineData("limit=-3")]
    [InlineData("limit=ten")]
    [InlineData("after=not-a-uuid")]
    [InlineData("after=00000000-0000-0000-0000-000000000001")]
    public async Task A_bad_page_request_is_a_400_problem(string query)
    {
        await using var api = await TestApi.StartAsync(postgres);
        var session = await Uploads.NewSessionAsync(api);
        var sessionId = session.GetProperty("id").GetGuid();
        using var response = await api.Client.GetAsync($"/api/session/{sessionId}/responses?{query}",
            SessionSecretRequests.SecretOf(session));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_cursor_from_another_session_is_refused()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var mineStarted = await Uploads.NewSessionAsync(api);
        var mine = mineStarted.GetProperty("id").GetGuid();
        var theirs = (await Uploads.NewSessionAsync(api)).GetProperty("id").GetGuid();
        var their = await Uploads.PostTextAsync(api.Client, theirs, "theirs");
        using var response = await api.Client.GetAsync($"/api/session/{mine}/responses?after={their.GetProperty("id").GetGuid()}",
            SessionSecretRequests.SecretOf(mineStarted));
        await StarvationTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, "after");
    }

    [Fact]
    public async Task Readiness_probes_share_one_database_check_per_second()
    {
        // The numbering check keeps its own, longer interval: looked at once here, before the counted window.
        await using var api = await TestApi.StartAsync(postgres,
            settings: new Dictionary<string, string?> { ["MindJourney:Health:CheckIntervalSeconds"] = "3600" });
        (await api.Client.GetAsync("/health")).EnsureSuccessStatusCode();
        var database = new NpgsqlConnectionStringBuilder(api.ConnectionString).Database;
        var commands = 0;
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (Equals(activity.GetTagItem("db.namespace"), database))
                {
                    Interlocked.Increment(ref commands);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // whatever ran at start is out of the cache

        Interlocked.Exchange(ref commands, 0);
        var clock = Stopwatch.StartNew();
        var answers = new List<HttpStatusCode>();
        for (var i = 0; i < 10; i++)
        {
            var burst = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => api.Client.GetAsync("/health")));
            answers.AddRange(burst.Select(r => r.StatusCode));
        }

        var elapsed = clock.Elapsed;
        var counted = Volatile.Read(ref commands);
        Assert.All(answers, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.True(elapsed < TimeSpan.FromSeconds(1), $"50 probes took {elapsed.TotalMilliseconds:0} ms");
        Assert.InRange(counted, 1, 2);

        // Liveness never touches the database.
        Interlocked.Exchange(ref commands, 0);
        for (var i = 0; i < 20; i++)
        {
            using var alive = await api.Client.GetAsync("/alive");
            Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        }

        Assert.Equal(0, Volatile.Read(ref commands));
    }

    private static string? NextLink(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Link", out var values))
        {
            return null;
        }

        var link = values.Single();
        Assert.EndsWith("; rel=\"next\"", link, StringComparison.Ordinal);
        return link[1..link.IndexOf('>', StringComparison.Ordinal)];
    }
}
