using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MindJourney.Api.Admin;
using MindJourney.Api.Sessions;
using MindJourney.Api.Withdrawal;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>A person's withdrawal erases their answers, files and durable copies (storage listed afterwards), keeps
/// their visitor number (the audit stays clean), and refuses everything sent for them afterwards with 410.</summary>
[Collection(PostgresCollection.Name)]
public sealed class WithdrawalTests(PostgresServer postgres)
{
    [Fact]
    public async Task Admin_withdrawal_erases_answers_files_and_durable_copies_keeps_the_number_and_leaves_exports_and_audit_clean()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey, storage: storage);
        var first = await ApiCalls.StartSessionAsync(api);
        var leaving = await ApiCalls.StartSessionAsync(api);
        var third = await ApiCalls.StartSessionAsync(api);
        var kept = await ApiCalls.RecordTextAsync(api.Client, first.Id, new { text = "first stays" });
        await ApiCalls.RecordTextAsync(api.Client, third.Id, new { text = "third stays" });
        var video = await ApiCalls.RecordAsync(api.Client,
            Uploads.Multipart(Uploads.Fields(leaving.Id, "video"), Uploads.RandomBytes(300 * 1024, seed: 5)));
        var text = await ApiCalls.RecordTextAsync(api.Client, leaving.Id, new { text = "my private words" });
        await Uploads.WaitUntilStoredAsync(api, text.Id);
        await Uploads.WaitUntilStoredAsync(api, kept.Id);
        using (var patched = await api.Client.PatchAsJsonAsync($"/api/session/{leaving.Id}",
            new { branchingPath = "calm>sad", sessionData = new { mood = "sad" } }, leaving.SessionSecret!))
        {
            Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        }

        // Storage goes down: their photo is kept as a durable copy in the database, and the withdrawal cannot reach
        // storage. The database part is done at once (503: call again); the repeat clears storage.
        await storage.StopAsync();
        var photo = await ApiCalls.RecordAsync(api.Client, Uploads.Multipart(Uploads.Fields(leaving.Id, "photo"),
            Uploads.RandomBytes(40 * 1024, seed: 6), "image/png", "name=\"file\"; filename=\"me.png\""));
        Assert.Equal("pending", photo.Storage.Status);
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM storage_delivery_chunks"));
        using (var halfDone = await WithdrawAsync(api, leaving.UserId, new { reason = "Asked by e-mail, ticket 41" }))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, halfDone.StatusCode);
            Assert.Equal("application/problem+json", halfDone.Content.Headers.ContentType?.MediaType);
        }

        Assert.Equal(0, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses WHERE user_id = '{leaving.UserId}'"));
        Assert.Equal(0, await api.ScalarAsync<long>($"SELECT count(*) FROM storage_deliveries WHERE response_id = '{photo.Id}'"));
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM storage_delivery_chunks"));
        Assert.Equal(1, await api.ScalarAsync<long>(
            $"SELECT count(*) FROM experiment_sessions WHERE id = '{leaving.Id}' AND session_data IS NULL AND branching_path IS NULL "
            + "AND visitor_number = 2"));
        var withdrawnAt = await api.ScalarAsync<DateTime>($"SELECT withdrawn_at FROM users WHERE id = '{leaving.UserId}'");

        await storage.StartAgainAsync();
        using (var done = await WithdrawAsync(api, leaving.UserId, new { reason = "Asked by e-mail, ticket 41" }))
        {
            Assert.Equal(HttpStatusCode.OK, done.StatusCode);
            var result = await done.Content.ReadAsAsync<WithdrawalResult>();
            Assert.Equal(leaving.UserId, result.UserId);
            Assert.Equal(2, result.VisitorNumber);
            Assert.Equal(withdrawnAt, result.WithdrawnAt.UtcDateTime, TimeSpan.FromMilliseconds(1));
            Assert.Equal(new ErasedData(0, 0), result.Erased); // a repeat: nothing was left in the database
        }

        var objects = await storage.ListAsync("experiment-responses/");
        Assert.DoesNotContain(objects, o => o.Name.Contains(leaving.Id.ToString(), StringComparison.Ordinal));
        Assert.Contains(objects, o => o.Name == kept.Storage.ObjectName);
        Assert.DoesNotContain(objects, o => o.Name == video.Storage.ObjectName || o.Name == photo.Storage.ObjectName);

        // The numbering is whole: no gap, no mismatch, one person withdrawn.
        var audit = await ApiCalls.AuditAsync(api.Client);
        Assert.Equal(1, audit.Withdrawn);
        Assert.Empty(audit.Gaps);
        Assert.Empty(audit.Duplicates);
        Assert.Equal(0, audit.MismatchedSessions + audit.MismatchedResponses);
        Assert.Equal(3, audit.NumberedUsers);

        // The action log: by user id, number and reason, with counts, never their data.
        var log = (await AdminGetAsync(api.Client, "/api/admin/actions")).EnumerateArray()
            .Where(a => a.GetProperty("action").GetString() == WithdrawalApi.ByResearcher).ToList();
        Assert.Equal(2, log.Count);
        var firstEntry = log[^1].GetProperty("details").As<WithdrawalLogEntry>();
        Assert.Equal(new WithdrawalLogEntry(leaving.UserId, 2, "Asked by e-mail, ticket 41", 3, 3), firstEntry);
        Assert.DoesNotContain("private", log[^1].GetRawText(), StringComparison.Ordinal);

        // Exports leave them out; the zip's manifest counts them.
        var csv = await ExportTextAsync(api, "format=csv");
        Assert.Contains(first.Id.ToString(), csv);
        Assert.DoesNotContain(leaving.Id.ToString(), csv);
        Assert.DoesNotContain(leaving.Id.ToString(), await ExportTextAsync(api, "format=jsonl"));
        using (var zipResponse = await AdminSendAsync(api.Client, HttpMethod.Get, "/api/admin/export?format=zip"))
        {
            using var zip = new ZipArchive(new MemoryStream(await zipResponse.Content.ReadAsByteArrayAsync()), ZipArchiveMode.Read);
            Assert.DoesNotContain(zip.Entries, e => e.FullName.Contains(leaving.Id.ToString(), StringComparison.Ordinal));
            using var manifest = JsonDocument.Parse(zip.GetEntry("manifest.json")!.Open());
            Assert.Equal(1, manifest.RootElement.GetProperty("withdrawn").GetInt32());
        }

        // The participant list shows them withdrawn, found by their number.
        var found = (await AdminGetAsync(api.Client, "/api/admin/participants?visitorNumber=2")).As<List<ParticipantRow>>();
        var row = Assert.Single(found);
        Assert.Equal(leaving.Id, row.SessionId);
        Assert.NotNull(row.WithdrawnAt);
        Assert.Equal(0, row.Responses);
        Assert.All((await AdminGetAsync(api.Client, "/api/admin/participants")).As<List<ParticipantRow>>()
            .Where(r => r.SessionId != leaving.Id), r => Assert.Null(r.WithdrawnAt));
    }

    [Fact]
    public async Task A_participant_withdraws_with_their_secret_and_answers_uploads_and_changes_for_them_get_410()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        await ConditionTests.DeclareAsync(api, "least-filled", ["a", "b"]);
        var experimentId = await api.ActiveExperimentIdAsync();
        var leaving = await ApiCalls.StartSessionAsync(api.Client, new { experimentId });
        var staying = await ApiCalls.StartSessionAsync(api.Client, new { experimentId });
        using (var done = await api.Client.PatchAsJsonAsync($"/api/session/{leaving.Id}",
            new { currentLevel = ConditionTests.LastLevel, isCompleted = true }, leaving.SessionSecret!))
        {
            Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        }

        var later = await ApiCalls.StartSessionAsync(api.Client, new { experimentId, userId = leaving.UserId },
            secret: leaving.SessionSecret);
        await ApiCalls.RecordTextAsync(api.Client, later.Id, new { text = "second device" });
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT completed FROM condition_tallies WHERE condition = 'a'"));
        var startedBefore = await api.ScalarAsync<long>("SELECT started FROM condition_tallies WHERE condition = 'a'");

        // Recruited through a panel: found by the panel's id (in a header, never the URL).
        await api.ExecuteAsync("INSERT INTO recruitments (experiment_id, source, participant_key, participant_id, panel_study_id, "
            + $"panel_session_id, user_id) VALUES ('{experimentId}', 'prolific', '\\x0102', 'PID-5f3a', 'STUDY-1', 'SESS-9', "
            + $"'{leaving.UserId}')");
        Assert.Equal([later.Id, leaving.Id], (await SearchByPanelIdAsync(api, "PID-5f3a")).Select(r => r.SessionId));

        // The same proof as reads: no secret 401, another's secret 404.
        using (var anonymous = await api.Client.DeleteAsync($"/api/session/{leaving.Id}"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        using (var wrong = await DeleteAsync(api.Client, leaving.Id, staying.SessionSecret!))
        {
            Assert.Equal(HttpStatusCode.NotFound, wrong.StatusCode);
        }

        Assert.Null(await api.ScalarAsync<DateTime?>($"SELECT withdrawn_at FROM users WHERE id = '{leaving.UserId}'"));
        for (var i = 0; i < 2; i++)
        {
            using var withdrawn = await DeleteAsync(api.Client, later.Id, later.SessionSecret!);
            Assert.Equal(HttpStatusCode.NoContent, withdrawn.StatusCode);
        }

        // The whole person: both sessions' answers are gone; counted once in the tallies, still started.
        Assert.Equal(0, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses WHERE user_id = '{leaving.UserId}'"));
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT completed FROM condition_tallies WHERE condition = 'a'"));
        Assert.Equal(startedBefore, await api.ScalarAsync<long>("SELECT started FROM condition_tallies WHERE condition = 'a'"));
        // Their panel ids are erased; the HMAC that recognises them stays.
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM recruitments WHERE participant_id IS NULL "
            + "AND panel_study_id IS NULL AND panel_session_id IS NULL AND participant_key = '\\x0102'::bytea"));
        Assert.Empty(await SearchByPanelIdAsync(api, "PID-5f3a"));
        var balance = (await ApiCalls.AuditAsync(api.Client)).Conditions.Single(c => c.Condition == "a");
        Assert.Equal((2L, 0L), (balance.Started, balance.Completed)); // both sessions, neither completed any more
        var entry = (await AdminGetAsync(api.Client, "/api/admin/actions")).EnumerateArray()
            .Single(a => a.GetProperty("action").GetString() == WithdrawalApi.ByParticipant && a.GetProperty("details")
                .GetProperty("answers").GetInt32() == 1);
        Assert.Equal(WithdrawalApi.ParticipantFingerprint, entry.GetProperty("keyFingerprint").GetString());

        // Everything sent for them afterwards: 410 /problems/withdrawn, nothing written. Answers arriving together go
        // through one answer statement.
        var answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => api.Client.PostAsJsonAsync("/api/response", new
        {
            sessionId = i % 2 == 0 ? leaving.Id : later.Id,
            levelId = "1",
            questionId = $"q{i}",
            responseType = "text",
            responseData = new { text = "after" },
        })));
        foreach (var answer in answers)
        {
            await AssertWithdrawnAsync(answer);
        }

        await AssertWithdrawnAsync(await api.Client.PostAsync("/api/response",
            Uploads.Multipart(Uploads.Fields(leaving.Id, "video"), Uploads.RandomBytes(2048, seed: 1))));
        await AssertWithdrawnAsync(await api.Client.PatchAsJsonAsync($"/api/session/{later.Id}", new { currentLevel = 2 },
            later.SessionSecret!));
        await AssertWithdrawnAsync(await AdminSendAsync(api.Client, HttpMethod.Patch, $"/api/session/{leaving.Id}",
            new { isCompleted = false }));
        var sequence = await api.SequencePositionAsync();
        using (var resume = new HttpRequestMessage(HttpMethod.Post, "/api/session"))
        {
            resume.Headers.Add(SessionSecretRequests.Header, leaving.SessionSecret);
            resume.Content = JsonContent.Create(new { experimentId, userId = leaving.UserId });
            await AssertWithdrawnAsync(await api.Client.SendAsync(resume)); // resuming them is refused too
        }

        Assert.Equal(2, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_sessions WHERE user_id = '{leaving.UserId}'"));
        Assert.Equal(sequence, await api.SequencePositionAsync());
        Assert.Equal(0, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses WHERE user_id = '{leaving.UserId}'"));
        await ApiCalls.RecordTextAsync(api.Client, staying.Id, new { text = "unaffected" });

        // Unknown person 404; a reason past its limit 400; neither changes anything.
        using (var unknown = await WithdrawAsync(api, Guid.NewGuid(), null))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
        }

        using (var tooLong = await WithdrawAsync(api, staying.UserId, new { reason = new string('x', 501) }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        }

        Assert.Null(await api.ScalarAsync<DateTime?>($"SELECT withdrawn_at FROM users WHERE id = '{staying.UserId}'"));
    }

    [Fact]
    public async Task Withdrawing_during_a_slow_upload_leaves_no_object_row_or_copy_and_the_upload_gets_410()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey, storage: storage);
        var session = await ApiCalls.StartSessionAsync(api);
        var upload = new PausedMultipart(Uploads.Fields(session.Id, "video"), Uploads.RandomBytes(12 * 1024 * 1024, seed: 9));
        var sent = api.Client.PostAsync("/api/response", upload);

        await upload.Halfway.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // The early upload is under way in storage: its session was read before the withdrawal.
        using (var withdrawn = await WithdrawAsync(api, session.UserId, null))
        {
            Assert.Equal(HttpStatusCode.OK, withdrawn.StatusCode);
        }

        upload.Resume.SetResult();
        await AssertWithdrawnAsync(await sent);

        Assert.Empty(await storage.ListAsync("experiment-responses/"));
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"));
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM storage_deliveries"));
        await Task.Delay(1000); // nothing turns up later either (the worker polls every 0.1 s)
        Assert.Empty(await storage.ListAsync("experiment-responses/"));
    }

    [Fact]
    public async Task An_upload_whose_row_waits_behind_a_withdrawal_is_refused_and_its_object_deleted()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey, storage: storage);
        var session = await ApiCalls.StartSessionAsync(api);
        await using var rowLock = await SessionRowLock.TakeAsync(api.ConnectionString, session.Id);
        var upload = api.Client.PostAsync("/api/response",
            Uploads.Multipart(Uploads.Fields(session.Id, "video"), Uploads.RandomBytes(512 * 1024, seed: 8)));
        await Uploads.WaitUntilAsync(async () => (await storage.ListAsync("experiment-responses/")).Count == 1,
            "the upload's object is in storage");
        await rowLock.WaitForWaiterAsync();
        // A withdrawal holds the session's lock, as this one does, and commits while the upload's insert waits.
        await rowLock.ExecuteAsync($"UPDATE users SET withdrawn_at = now() WHERE id = '{session.UserId}'");
        await rowLock.ReleaseAsync();

        await AssertWithdrawnAsync(await upload);
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"));
        Assert.Empty(await storage.ListAsync("experiment-responses/"));
    }

    private static async Task AssertWithdrawnAsync(HttpResponseMessage response)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.Gone, $"{(int)response.StatusCode}: {body}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("/problems/withdrawn", JsonDocument.Parse(body).RootElement.GetProperty("type").GetString());
        }
    }

    private static Task<HttpResponseMessage> WithdrawAsync(TestApi api, Guid userId, object? body) =>
        AdminSendAsync(api.Client, HttpMethod.Post, $"/api/admin/users/{userId}/withdraw", body);

    private static Task<HttpResponseMessage> DeleteAsync(HttpClient client, Guid sessionId, string secret)
    {
        var request = new HttpRequestMessage(HttpMethod.Delete, $"/api/session/{sessionId}");
        request.Headers.Add(SessionSecretRequests.Header, secret);
        return client.SendAsync(request);
    }

    private static Task<HttpResponseMessage> AdminSendAsync(HttpClient client, HttpMethod method, string url, object? body = null)
    {
        var request = new HttpRequestMessage(method, url);
        request.Headers.Add(AdminKeyAuthenticationHandler.KeyHeader, AdminTests.AdminKey);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return client.SendAsync(request);
    }

    private static async Task<JsonElement> AdminGetAsync(HttpClient client, string url)
    {
        using var response = await AdminSendAsync(client, HttpMethod.Get, url);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<List<ParticipantRow>> SearchByPanelIdAsync(TestApi api, string participantId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/participants");
        request.Headers.Add(AdminKeyAuthenticationHandler.KeyHeader, AdminTests.AdminKey);
        request.Headers.Add(AdminApi.ParticipantIdHeader, participantId);
        using var response = await api.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsAsync<List<ParticipantRow>>();
    }

    private static async Task<string> ExportTextAsync(TestApi api, string query)
    {
        using var response = await AdminSendAsync(api.Client, HttpMethod.Get, $"/api/admin/export?{query}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>A multipart upload whose file stops half-way until the test resumes it, as a slow connection would.</summary>
    private sealed class PausedMultipart : HttpContent
    {
        private const string Boundary = "----mindjourney-withdrawal-boundary";
        private readonly IReadOnlyDictionary<string, string> _fields;
        private readonly byte[] _file;

        public PausedMultipart(IReadOnlyDictionary<string, string> fields, byte[] file)
        {
            _fields = fields;
            _file = file;
            Headers.ContentType = MediaTypeHeaderValue.Parse($"multipart/form-data; boundary={Boundary}");
        }

        public TaskCompletionSource Halfway { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Resume { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var head = new StringBuilder();
            foreach (var (name, value) in _fields)
            {
                head.Append($"--{Boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n");
            }

            head.Append($"--{Boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.webm\"\r\n");
            head.Append("Content-Type: video/webm\r\n\r\n");
            await stream.WriteAsync(Encoding.UTF8.GetBytes(head.ToString()));
            var half = _file.Length / 2;
            await stream.WriteAsync(_file.AsMemory(0, half));
            await stream.FlushAsync();
            Halfway.SetResult();
            await Resume.Task;
            await stream.WriteAsync(_file.AsMemory(half));
            await stream.WriteAsync(Encoding.UTF8.GetBytes($"\r\n--{Boundary}--\r\n"));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }
}
