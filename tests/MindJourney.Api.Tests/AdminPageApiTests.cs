using System.Net;
using System.Net.Http.Json;
using MindJourney.Api.Admin;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>The routes behind the researcher page: the participants table a page at a time, and the action log.</summary>
[Collection(PostgresCollection.Name)]
public sealed class AdminPageApiTests(PostgresServer postgres)
{
    [Fact]
    public async Task Participants_come_newest_first_in_pages_with_their_progress_and_their_answers_and_files_counted()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var started = new List<StartedSession>();
        for (var i = 0; i < 5; i++)
        {
            started.Add(await ApiCalls.StartSessionAsync(api));
        }

        // The second session answers twice in text (each stored as a file) and once by email (no file).
        var answering = started[1].Id;
        await ApiCalls.RecordTextAsync(api.Client, answering, "first");
        await ApiCalls.RecordTextAsync(api.Client, answering, "second");
        using (var email = await api.Client.PostAsJsonAsync("/api/response",
            new { sessionId = answering, levelId = "1", questionId = "q9", responseType = "email", responseData = "p@example.org" }))
        {
            Assert.Equal(HttpStatusCode.Created, email.StatusCode);
        }

        await api.ExecuteAsync(
            $"UPDATE experiment_sessions SET current_level = 4, is_completed = true WHERE id = '{started[3].Id}'");

        var rows = new List<ParticipantRow>();
        var next = "/api/admin/participants?limit=2";
        var pages = 0;
        while (next is not null)
        {
            using var page = await AdminGetAsync(api.Client, next);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal("no-store", page.Headers.CacheControl?.ToString());
            var items = await page.Content.ReadAsAsync<List<ParticipantRow>>();
            Assert.InRange(items.Count, 1, 2);
            rows.AddRange(items);
            next = NextLink(page);
            pages++;
        }

        Assert.Equal(3, pages);
        Assert.Equal(started.Select(s => s.Id).Reverse(), rows.Select(r => r.SessionId));
        Assert.Equal(started.Select(s => s.VisitorNumber!.Value).Reverse(), rows.Select(r => r.VisitorNumber!.Value));
        Assert.All(rows, r =>
        {
            Assert.Equal("live", r.Mode);
            Assert.Equal(4, r.TotalLevels);
        });

        var answered = rows.Single(r => r.SessionId == answering);
        Assert.Equal(3, answered.Responses);
        Assert.Equal(2, answered.Files);
        var completed = rows.Single(r => r.SessionId == started[3].Id);
        Assert.True(completed.IsCompleted);
        Assert.Equal(4, completed.CurrentLevel);
        Assert.Equal(0, completed.Responses);
        Assert.Equal(started[0].CreatedAt, rows[^1].CreatedAt);

        // A page that starts before the third session holds the two older ones; the last page has no next link.
        using var older = await AdminGetAsync(api.Client, $"/api/admin/participants?before={started[2].Id}");
        var olderRows = await older.Content.ReadAsAsync<List<ParticipantRow>>();
        Assert.Equal([started[1].Id, started[0].Id], olderRows.Select(r => r.SessionId));
        Assert.Null(NextLink(older));
    }

    [Theory]
    [InlineData("/api/admin/participants?limit=0")]
    [InlineData("/api/admin/participants?limit=501")]
    [InlineData("/api/admin/participants?limit=ten")]
    [InlineData("/api/admin/participants?before=not-a-uuid")]
    [InlineData("/api/admin/actions?limit=0")]
    [InlineData("/api/admin/actions?limit=501")]
    public async Task A_bad_page_request_is_a_400_problem(string url)
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        using var response = await AdminGetAsync(api.Client, url);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("/api/admin/participants", null)]
    [InlineData("/api/admin/participants", "not-the-key")]
    [InlineData("/api/admin/actions", null)]
    [InlineData("/api/admin/actions", "not-the-key")]
    public async Task Without_the_admin_key_the_lists_are_refused(string url, string? key)
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        await ApiCalls.StartSessionAsync(api);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (key is not null)
        {
            request.Headers.Add("X-Admin-Key", key);
        }

        using var response = await api.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.DoesNotContain("visitorNumber", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_recovery_is_listed_with_the_key_fingerprint_and_what_it_changed_and_never_the_key()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        await ApiCalls.StartSessionAsync(api);
        await ApiCalls.StartSessionAsync(api);
        await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence MAXVALUE 2");
        var fallback = await ApiCalls.StartSessionAsync(api);
        Assert.Null(fallback.VisitorNumber);
        await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence NO MAXVALUE");

        using (var empty = await AdminGetAsync(api.Client, "/api/admin/actions"))
        {
            Assert.Empty(await empty.Content.ReadAsAsync<List<AdminActionEntry>>());
        }

        for (var i = 0; i < 2; i++)
        {
            using var recover = new HttpRequestMessage(HttpMethod.Post, "/api/admin/assign-visitor-numbers");
            recover.Headers.Add("X-Admin-Key", AdminTests.AdminKey);
            using var recovered = await api.Client.SendAsync(recover);
            Assert.Equal(HttpStatusCode.OK, recovered.StatusCode);
        }

        using var listed = await AdminGetAsync(api.Client, "/api/admin/actions");
        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        var text = await listed.Content.ReadAsStringAsync();
        Assert.DoesNotContain(AdminTests.AdminKey, text, StringComparison.Ordinal);
        var actions = await listed.Content.ReadAsAsync<List<AdminActionEntry>>();
        Assert.Equal(2, actions.Count);
        var (latest, first) = (actions[0], actions[1]);
        Assert.All(new[] { latest, first }, action =>
        {
            Assert.Equal("recovery", action.Action);
            Assert.Equal(AdminKeyAuthenticationHandler.Fingerprint(AdminTests.AdminKey), action.KeyFingerprint);
            Assert.NotEqual(Guid.Empty, action.Id);
        });

        // Newest first: the second run found nothing left to number. A recovery's details are its result.
        Assert.True(latest.At >= first.At);
        Assert.Equal(0, latest.Details.As<RecoveryResult>().NumbersAssigned);
        Assert.Equal(1, first.Details.As<RecoveryResult>().NumbersAssigned);
        var assignment = Assert.Single(first.Details.As<RecoveryResult>().Assignments);
        Assert.Equal(fallback.Id, assignment.SessionId);
        Assert.Equal(3, assignment.VisitorNumber);

        using var one = await AdminGetAsync(api.Client, "/api/admin/actions?limit=1");
        var only = Assert.Single(await one.Content.ReadAsAsync<List<AdminActionEntry>>());
        Assert.Equal(latest.Id, only.Id);
    }

    private static Task<HttpResponseMessage> AdminGetAsync(HttpClient client, string url)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Add("X-Admin-Key", AdminTests.AdminKey);
        return client.SendAsync(request);
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
