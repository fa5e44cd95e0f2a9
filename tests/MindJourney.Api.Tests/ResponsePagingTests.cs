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
        var sessionId = session.Id;
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
        using var first = await api.Client.GetAsync($"/api/session/{sessionId}/responses", session.SessionSecret!);
        var firstPage = await first.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(100, firstPage.GetArrayLength());
        Assert.NotNull(NextLink(first));

        var paged = new List<Guid>();
        var next = $"/api/session/{sessionId}/responses?limit=40";
        var pages = 0;
        while (next is not null)
        {
            using var page = await api.Client.GetAsync(next, session.SessionSecret!);
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

    /// <summary>Answers of ~900 KB: five fill a page of the default 4 MiB, whatever the count asked for.</summary>
    private const int LargeAnswer = 900_000;

    [Fact]
    public async Task A_page_ends_at_its_byte_cap_and_its_links_reach_every_answer_once_in_order()
    {
        // Production limits and the default cap (4 MiB): a stranger with a session's secret reads its largest answers.
        await using var api = await TestApi.StartAsync(postgres, productionLimits: true);
        var session = await Uploads.NewSessionAsync(api);
        var sessionId = session.Id;
        int[] sizes = [LargeAnswer, 20, LargeAnswer, LargeAnswer, LargeAnswer, LargeAnswer, LargeAnswer, 50];
        var sent = new List<(Guid Id, string Note)>();
        foreach (var (size, n) in sizes.Select((size, n) => (size, n)))
        {
            var note = new string((char)('a' + n), size);
            var created = await Uploads.PostCreatedAsync(api.Client, JsonContent.Create(new
            {
                sessionId,
                levelId = "1",
                questionId = $"q{n}",
                responseType = "email",
                responseData = new { note, n },
            }));
            sent.Add((created.Id, note));
        }

        var pages = await ReadAllPagesAsync(api, $"/api/session/{sessionId}/responses", session.SessionSecret!);

        Assert.Equal(sent.Select(s => s.Id), pages.SelectMany(p => p.Items).Select(i => i.GetProperty("id").GetGuid()));
        Assert.Equal([5, 3], pages.Select(p => p.Items.Count));
        Assert.All(pages, p => Assert.True(p.Bytes <= 4 * 1024 * 1024, $"a page of {p.Bytes} bytes"));
        Assert.StartsWith($"</api/session/{sessionId}/responses?limit=100&after={sent[4].Id}>", pages[0].Link, StringComparison.Ordinal);
        Assert.Null(pages[1].Link);

        // Each answer comes back as sent, with the fields of the answer POST /api/response returned.
        var items = pages.SelectMany(p => p.Items).ToList();
        foreach (var (item, (id, note)) in items.Zip(sent))
        {
            Assert.Equal(note, item.GetProperty("responseData").GetProperty("note").GetString());
            Assert.Equal(sessionId, item.GetProperty("sessionId").GetGuid());
            Assert.Equal("email", item.GetProperty("responseType").GetString());
            Assert.Equal("none", item.GetProperty("storage").GetProperty("status").GetString());
            Assert.Equal(JsonValueKind.Null, item.GetProperty("storage").GetProperty("objectName").ValueKind);
            Assert.Equal(JsonValueKind.Null, item.GetProperty("fileId").ValueKind);
        }

        Assert.Equal(JsonSerializer.Serialize(session.VisitorNumber), items[1].GetProperty("visitorNumber").GetRawText());
        Assert.Equal(1, items[1].GetProperty("responseData").GetProperty("n").GetInt32());
        Assert.Equal(sent[1].Id, items[1].GetProperty("id").GetGuid());
        Assert.Equal(["id", "sessionId", "visitorNumber", "levelId", "questionId", "responseType", "responseData", "fileId", "fileUrl",
            "createdAt", "storage"], items[1].EnumerateObject().Select(p => p.Name).Where(n => n != "userId"));
    }

    [Fact]
    public async Task An_answer_larger_than_the_byte_cap_is_a_page_of_its_own()
    {
        await using var api = await TestApi.StartAsync(postgres, productionLimits: true,
            settings: new Dictionary<string, string?> { ["MindJourney:Responses:MaxPageBytes"] = "65536" });
        var session = await Uploads.NewSessionAsync(api);
        var sessionId = session.Id;
        var sent = new List<Guid>();
        foreach (var size in new[] { 100_000, 10, 10, 70_000 })
        {
            var created = await Uploads.PostCreatedAsync(api.Client, JsonContent.Create(new
            {
                sessionId,
                levelId = "1",
                questionId = "q1",
                responseType = "email",
                responseData = new string('x', size),
            }));
            sent.Add(created.Id);
        }

        var pages = await ReadAllPagesAsync(api, $"/api/session/{sessionId}/responses?limit=500", session.SessionSecret!);

        Assert.Equal([1, 2, 1], pages.Select(p => p.Items.Count));
        Assert.Equal(sent, pages.SelectMany(p => p.Items).Select(i => i.GetProperty("id").GetGuid()));
        Assert.Contains("limit=500&", pages[0].Link, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10")]
    [InlineData("-1")]
    public async Task A_page_cap_out_of_range_stops_the_start_naming_the_setting(string value)
    {
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => TestApi.StartAsync(postgres,
            settings: new Dictionary<string, string?> { ["MindJourney:Responses:MaxPageBytes"] = value }));
        Assert.Contains("MindJourney:Responses:MaxPageBytes", refused.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_session_cannot_hold_more_bytes_of_json_answers_than_its_quota()
    {
        await using var api = await TestApi.StartAsync(postgres, productionLimits: true,
            settings: new Dictionary<string, string?> { ["MindJourney:Storage:MaxBytesPerSession"] = "2000000" });
        var sessionId = (await Uploads.NewSessionAsync(api)).Id;
        object Answer(int size) =>
            new { sessionId, levelId = "1", questionId = "q1", responseType = "email", responseData = new string('x', size) };

        await Uploads.PostCreatedAsync(api.Client, JsonContent.Create(Answer(LargeAnswer)));
        await Uploads.PostCreatedAsync(api.Client, JsonContent.Create(Answer(LargeAnswer)));
        using (var third = await api.Client.PostAsJsonAsync("/api/response", Answer(LargeAnswer)))
        {
            await StarvationTests.AssertProblemAsync(third, HttpStatusCode.RequestEntityTooLarge, "bytes");
        }

        Assert.Equal(2, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses WHERE session_id = '{sessionId}'"));

        // What is left still takes a small answer; a text answer counts its JSON as well as its stored text.
        await Uploads.PostCreatedAsync(api.Client, JsonContent.Create(Answer(1000)));
        using (var text = await api.Client.PostAsJsonAsync("/api/response",
            new { sessionId, levelId = "1", questionId = "q2", responseType = "text", responseData = new string('t', 100_000) }))
        {
            await StarvationTests.AssertProblemAsync(text, HttpStatusCode.RequestEntityTooLarge, "bytes");
        }

        Assert.Equal(3, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses WHERE session_id = '{sessionId}'"));
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
        var sessionId = session.Id;
        using var response = await api.Client.GetAsync($"/api/session/{sessionId}/responses?{query}",
            session.SessionSecret!);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_cursor_from_another_session_is_refused()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var mineStarted = await Uploads.NewSessionAsync(api);
        var mine = mineStarted.Id;
        var theirs = (await Uploads.NewSessionAsync(api)).Id;
        var their = await Uploads.PostTextAsync(api.Client, theirs, "theirs");
        using var response = await api.Client.GetAsync($"/api/session/{mine}/responses?after={their.Id}",
            mineStarted.SessionSecret!);
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

    /// <summary>Follows the Link headers from <paramref name="first"/> to the end: each page's answers, size and link.</summary>
    private static async Task<List<(List<JsonElement> Items, long Bytes, string? Link)>> ReadAllPagesAsync(TestApi api, string first,
        string secret)
    {
        var pages = new List<(List<JsonElement> Items, long Bytes, string? Link)>();
        for (string? next = first; next is not null && pages.Count < 20;)
        {
            using var page = await api.Client.GetAsync(next, secret);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            var body = await page.Content.ReadAsByteArrayAsync();
            var link = page.Headers.TryGetValues("Link", out var values) ? values.Single() : null;
            pages.Add((JsonDocument.Parse(body).RootElement.EnumerateArray().Select(e => e.Clone()).ToList(), body.Length, link));
            next = NextLink(page);
        }

        return pages;
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
