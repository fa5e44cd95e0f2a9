using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using MindJourney.Api.Admin;
using MindJourney.Api.Responses;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

[Collection(PostgresCollection.Name)]
public sealed class AdminTests(PostgresServer postgres)
{
    internal const string AdminKey = "test-admin-key-7f3c9a-5d21e8b4c0a96f37";
    internal static readonly Dictionary<string, string?> WithAdminKey = new() { ["Admin:ApiKey"] = AdminKey };

    [Fact]
    public async Task Recovery_numbers_fallback_sessions_oldest_first_after_the_existing_numbers_and_updates_their_responses()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: WithAdminKey);
        var experimentId = await api.ActiveExperimentIdAsync();
        for (var i = 0; i < 3; i++)
        {
            await ApiCalls.StartSessionAsync(api.Client, new { experimentId }); // 1..3
        }

        await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence MAXVALUE 3");
        var fallbacks = new List<StartedSession>();
        for (var i = 0; i < 4; i++)
        {
            var session = await ApiCalls.StartSessionAsync(api.Client, new { experimentId });
            Assert.Null(session.VisitorNumber);
            fallbacks.Add(session);
        }

        // The first fallback visitor comes back for a second session, and answers twice.
        var returning = await ApiCalls.StartSessionAsync(api.Client, new { experimentId, userId = fallbacks[0].UserId },
            secret: fallbacks[0].SessionSecret);
        foreach (var session in new[] { fallbacks[0], returning })
        {
            var post = await api.Client.PostAsJsonAsync("/api/response", new
            {
                sessionId = session.Id,
                levelId = "1",
                questionId = "q1",
                responseType = "text",
                responseData = new { text = "x" },
            });
            Assert.Equal(HttpStatusCode.Created, post.StatusCode);
        }

        await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence NO MAXVALUE");

        var result = await ApiCalls.RecoverAsync(api.Client);

        Assert.Equal(5, result.SessionsScanned);
        Assert.Equal(4, result.NumbersAssigned);
        Assert.Equal(2, result.ResponsesUpdated);
        var assignments = result.Assignments.ToDictionary(a => a.SessionId, a => a.VisitorNumber);
        Assert.Equal(5, assignments.Count);
        // Oldest first, contiguous after the 3 numbers that existed; the returning user's two sessions share one.
        Assert.Equal([4, 5, 6, 7], fallbacks.Select(f => assignments[f.Id]));
        Assert.Equal(4, assignments[returning.Id]);
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_sessions WHERE visitor_number IS NULL"));
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses WHERE visitor_number IS DISTINCT FROM 4"));

        var responses = await api.Client.GetFromJsonAsync<List<ResponseDetails>>($"/api/session/{returning.Id}/responses",
            returning.SessionSecret!);
        Assert.Equal(4, responses[0].VisitorNumber);

        var again = await ApiCalls.RecoverAsync(api.Client);
        Assert.Equal(0, again.NumbersAssigned);
        Assert.Empty(again.Assignments);
        Assert.Equal(7, await api.SequencePositionAsync());
    }

    [Fact]
    public async Task Recovery_writes_the_new_number_into_stored_objects_and_the_audit_counts_uploads_still_pending()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, settings: WithAdminKey, storage: storage);
        await ApiCalls.StartSessionAsync(api);
        await ApiCalls.StartSessionAsync(api);
        await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence MAXVALUE 2");
        var fallback = await ApiCalls.StartSessionAsync(api);
        var stored = await ApiCalls.RecordTextAsync(api.Client, fallback.Id, "before the recovery");
        await Uploads.WaitUntilStoredAsync(api, stored.Id);
        Assert.Equal("", (await storage.Client.GetObjectAsync(TestStorage.Bucket, stored.Storage.ObjectName!)).Metadata["visitorNumber"]);
        await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence NO MAXVALUE");

        var result = await ApiCalls.RecoverAsync(api.Client);

        Assert.Equal(1, result.ObjectsUpdated);
        Assert.Equal("3", (await storage.Client.GetObjectAsync(TestStorage.Bucket, stored.Storage.ObjectName!)).Metadata["visitorNumber"]);

        await storage.StopAsync();
        var pending = await ApiCalls.RecordTextAsync(api.Client, fallback.Id, "while storage is down");
        Assert.Equal("pending", pending.Storage.Status);
        Assert.Equal(1, (await ApiCalls.AuditAsync(api.Client)).PendingUploads);

        await storage.StartAgainAsync();
        await Uploads.WaitUntilStoredAsync(api, pending.Id);
        var audit = await ApiCalls.AuditAsync(api.Client);
        Assert.Equal(0, audit.PendingUploads);
        Assert.Equal(0, audit.MismatchedResponses);
        Assert.Equal("3", (await storage.Client.GetObjectAsync(TestStorage.Bucket, pending.Storage.ObjectName!)).Metadata["visitorNumber"]);
    }

    [Fact]
    public async Task Two_concurrent_recoveries_assign_each_number_once()
    {
        await using var api = await TestApi.StartAsync(postgres, instances: 2, settings: WithAdminKey);
        var experimentId = await api.ActiveExperimentIdAsync();
        await ApiCalls.StartSessionAsync(api.Client, new { experimentId });
        await ApiCalls.StartSessionAsync(api.Client, new { experimentId });
        await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence MAXVALUE 2");
        for (var i = 0; i < 20; i++)
        {
            await ApiCalls.StartSessionAsync(api.Hosts[i % 2].CreateClient(), new { experimentId });
        }

        await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence NO MAXVALUE");

        var results = await Task.WhenAll(ApiCalls.RecoverAsync(api.Hosts[0].CreateClient()),
            ApiCalls.RecoverAsync(api.Hosts[1].CreateClient()));

        Assert.Equal(20, results.Sum(r => r.NumbersAssigned));
        Assert.Contains(results, r => r.NumbersAssigned == 0);
        Assert.Equal(22, await api.SequencePositionAsync());
        Assert.Equal(22, await api.ScalarAsync<long>("SELECT count(DISTINCT visitor_number) FROM users"));
        Assert.Equal(Enumerable.Range(1, 22).Sum(), await api.ScalarAsync<long>("SELECT sum(visitor_number) FROM users"));
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("Authorization", "Bearer wrong-key")]
    [InlineData("X-Admin-Key", "wrong-key")]
    [InlineData("X-Admin-Key", "test-admin-key-7f3c9")]
    [InlineData("Authorization", "Basic dGVzdC1hZG1pbi1rZXktN2YzYzlh")]
    public async Task Admin_routes_refuse_a_missing_or_wrong_key_with_401(string? header, string? value)
    {
        await using var api = await TestApi.StartAsync(postgres, settings: WithAdminKey);
        foreach (var (method, path) in AdminRoutes)
        {
            using var request = new HttpRequestMessage(method, path);
            if (header is not null)
            {
                request.Headers.TryAddWithoutValidation(header, value);
            }

            var response = await api.Client.SendAsync(request);

            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task With_no_key_configured_every_admin_call_is_refused_even_with_a_key()
    {
        await using var api = await TestApi.StartAsync(postgres);
        foreach (var (method, path) in AdminRoutes)
        {
            using var request = new HttpRequestMessage(method, path);
            request.Headers.Add("X-Admin-Key", AdminKey);
            Assert.Equal(HttpStatusCode.Unauthorized, (await api.Client.SendAsync(request)).StatusCode);
            using var empty = new HttpRequestMessage(method, path);
            empty.Headers.TryAddWithoutValidation("X-Admin-Key", "");
            Assert.Equal(HttpStatusCode.Unauthorized, (await api.Client.SendAsync(empty)).StatusCode);
        }
    }

    [Fact]
    public async Task The_right_key_is_accepted_as_bearer_token_or_header()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: WithAdminKey);
        using var bearer = new HttpRequestMessage(HttpMethod.Get, "/api/admin/visitor-numbers/audit");
        bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        using var header = new HttpRequestMessage(HttpMethod.Post, "/api/admin/assign-visitor-numbers");
        header.Headers.Add("X-Admin-Key", AdminKey);

        Assert.Equal(HttpStatusCode.OK, (await api.Client.SendAsync(bearer)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await api.Client.SendAsync(header)).StatusCode);
    }

    [Fact]
    public async Task The_audit_is_clean_after_500_concurrent_sessions()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: WithAdminKey);
        var experimentId = await api.ActiveExperimentIdAsync();
        var client = api.Client;
        await Task.WhenAll(Enumerable.Range(0, 500).Select(_ => ApiCalls.StartSessionAsync(client, new { experimentId })));

        var audit = await ApiCalls.AuditAsync(client);

        Assert.Equal(500, audit.SequenceLastValue);
        Assert.Equal(500, audit.Users);
        Assert.Equal(500, audit.NumberedUsers);
        Assert.Equal(0, audit.UnnumberedSessions);
        Assert.Empty(audit.Duplicates);
        Assert.Empty(audit.Gaps);
        Assert.Equal(0, audit.MismatchedSessions);
        Assert.Equal(0, audit.MismatchedResponses);
        Assert.Equal(0, audit.PendingUploads);
    }

    [Fact]
    public async Task The_audit_reports_a_burned_number_a_mismatch_and_a_shared_number()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: WithAdminKey);
        var experimentId = await api.ActiveExperimentIdAsync();
        var first = await ApiCalls.StartSessionAsync(api.Client, new { experimentId }); // 1
        await api.ExecuteAsync("SELECT nextval('visitor_counter_sequence')");           // 2 burned
        var third = await ApiCalls.StartSessionAsync(api.Client, new { experimentId }); // 3
        await api.Client.PostAsJsonAsync("/api/response", new
        {
            sessionId = third.Id,
            levelId = "1",
            questionId = "q1",
            responseType = "text",
            responseData = new { text = "x" }
        });
        await api.ExecuteAsync("SELECT nextval('visitor_counter_sequence')");           // 4 burned, at the tail
        // Someone edits the data by hand: session 3 now claims number 1, and its response a made-up one.
        await api.ExecuteAsync($"UPDATE experiment_sessions SET visitor_number = 1 WHERE id = '{third.Id}'");
        await api.ExecuteAsync($"UPDATE experiment_responses SET visitor_number = 99 WHERE session_id = '{third.Id}'");

        var audit = await ApiCalls.AuditAsync(api.Client);

        Assert.Equal(4, audit.SequenceLastValue);
        Assert.Equal([new NumberGap(2, 2), new NumberGap(4, 4)], audit.Gaps);
        Assert.Equal(1, audit.MismatchedSessions);
        Assert.Equal(1, audit.MismatchedResponses);
        var duplicate = Assert.Single(audit.Duplicates);
        Assert.Equal(1, duplicate.VisitorNumber);
        Assert.Equal(first.VisitorNumber, duplicate.VisitorNumber);
    }

    [Fact]
    public async Task Session_starts_are_rate_limited_per_address_with_429_and_recover_after_the_window()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?>
        {
            ["MindJourney:RateLimit:SessionsPerWindow"] = "3",
            ["MindJourney:RateLimit:WindowSeconds"] = "2",
        });
        var experimentId = await api.ActiveExperimentIdAsync();
        var client = api.Client;
        for (var i = 0; i < 3; i++)
        {
            await ApiCalls.StartSessionAsync(client, new { experimentId });
        }

        var refused = await client.PostAsJsonAsync("/api/session", new { experimentId });

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero, "Retry-After tells the client when to come back");
        Assert.Equal(3, await api.SequencePositionAsync()); // the refused request burned no number

        await Task.Delay(TimeSpan.FromSeconds(2.5));
        var after = await ApiCalls.StartSessionAsync(client, new { experimentId });
        Assert.Equal(4, after.VisitorNumber);
    }

    private static readonly (HttpMethod, string)[] AdminRoutes =
    [
        (HttpMethod.Post, "/api/admin/assign-visitor-numbers"),
        (HttpMethod.Get, "/api/admin/visitor-numbers/audit"),
        (HttpMethod.Get, "/api/admin/visitor-numbers/health"),
        (HttpMethod.Post, "/api/admin/storage/orphans/sweep"),
    ];

    internal static async Task<JsonElement> AuditAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/visitor-numbers/audit");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
