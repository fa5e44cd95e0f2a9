using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using MindJourney.Api.Responses;
using MindJourney.Api.Storage;
using MindJourney.Api.Telemetry;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>Answers and files reach storage (our emulator, through the real Google client) under the contract's
/// names and metadata, and come back through <c>GET /api/download</c>.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ResponseUploadTests(PostgresServer postgres) : IAsyncLifetime
{
    private static readonly string[] MetadataKeys =
        ["visitorNumber", "sessionId", "userId", "experimentId", "responseId", "responseType", "uploadedAt", "originalName"];

    private TestStorage _storage = null!;
    private TestApi _api = null!;

    public async ValueTask InitializeAsync()
    {
        _storage = await TestStorage.StartAsync();
        _api = await TestApi.StartAsync(postgres, storage: _storage);
    }

    public async ValueTask DisposeAsync()
    {
        await _api.DisposeAsync();
        await _storage.DisposeAsync();
    }

    [Fact]
    public async Task A_text_response_is_stored_as_text_response_txt_with_the_sessions_number()
    {
        var session = await ApiCalls.StartSessionAsync(_api);
        var sessionId = session.Id;
        var answer = "I came to learn how I focus — «vraiment».";

        var created = await ApiCalls.RecordTextAsync(_api.Client, sessionId, answer);

        var responseId = created.Id;
        var objectName = created.Storage.ObjectName!;
        // The answer is acknowledged once recorded; the delivery worker writes its object moments later.
        Assert.Equal("pending", created.Storage.Status);
        await Uploads.WaitUntilStoredAsync(_api, responseId);
        Assert.Matches(
            new Regex($"^experiment-responses/{DateTime.UtcNow:yyyy-MM-dd}/session-{sessionId:D}/text/[0-9]{{13}}_text-response\\.txt$"),
            objectName);
        Assert.Equal(objectName, created.FileId);
        Assert.Equal($"/api/download/{responseId:D}", created.FileUrl);
        Assert.Equal(1, created.VisitorNumber!.Value);

        var stored = await _storage.Client.GetObjectAsync(TestStorage.Bucket, objectName);
        Assert.Equal("text/plain; charset=utf-8", stored.ContentType);
        Assert.Equal(Encoding.UTF8.GetBytes(answer), await _storage.DownloadAsync(objectName));
        Assert.Equal(Convert.ToBase64String(System.Security.Cryptography.MD5.HashData(Encoding.UTF8.GetBytes(answer))), stored.Md5Hash);
        Assert.Equal(["multipart upload"], _storage.WritesOf(objectName)); // one request: the resource and the bytes
        Assert.Equal(MetadataKeys.Order(), stored.Metadata.Keys.Order());
        Assert.Equal("1", stored.Metadata["visitorNumber"]);
        Assert.Equal(sessionId.ToString("D"), stored.Metadata["sessionId"]);
        Assert.Equal(session.UserId.ToString(), stored.Metadata["userId"]);
        Assert.Equal(session.ExperimentId.ToString(), stored.Metadata["experimentId"]);
        Assert.Equal(responseId.ToString("D"), stored.Metadata["responseId"]);
        Assert.Equal("text", stored.Metadata["responseType"]);
        Assert.Equal("text-response.txt", stored.Metadata["originalName"]);
        var uploadedAt = DateTimeOffset.Parse(stored.Metadata["uploadedAt"], CultureInfo.InvariantCulture);
        Assert.InRange(DateTimeOffset.UtcNow - uploadedAt, TimeSpan.Zero, TimeSpan.FromMinutes(1));
        Assert.EndsWith($"/{uploadedAt.ToUnixTimeMilliseconds()}_text-response.txt", objectName);

        var (bytes, contentType) = await Uploads.DownloadAsync(_api.Client, responseId, session.SessionSecret!);
        Assert.Equal(Encoding.UTF8.GetBytes(answer), bytes);
        Assert.Equal("text/plain; charset=utf-8", contentType);

        // The session's list reports the same storage state as the creation did.
        var listed = await _api.Client.GetFromJsonAsync<List<ResponseDetails>>($"/api/session/{sessionId}/responses",
            session.SessionSecret!);
        var item = Assert.Single(listed);
        Assert.Equal("stored", item.Storage.Status);
        Assert.Equal(objectName, item.Storage.ObjectName);
        Assert.Equal(0, await _api.ScalarAsync<long>("SELECT count(*) FROM storage_deliveries"));
    }

    [Fact]
    public async Task A_video_upload_goes_to_storage_with_its_name_type_and_metadata_and_downloads_byte_for_byte()
    {
        await ApiCalls.StartSessionAsync(_api); // visitor 1
        var session = await ApiCalls.StartSessionAsync(_api); // visitor 2
        var sessionId = session.Id;
        var video = Uploads.RandomBytes(300 * 1024, seed: 7);
        var host = _api.Hosts[0];
        var meters = host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        using var uploads = new MetricCollector<long>(meters, StorageTelemetry.SourceName, "mindjourney.storage.uploads");
        using var sizes = new MetricCollector<long>(meters, StorageTelemetry.SourceName, "mindjourney.storage.upload.size");
        using var spans = new SpanRecorder(StorageTelemetry.SourceName);

        var created = await ApiCalls.RecordAsync(_api.Client, Uploads.Multipart(Uploads.Fields(sessionId, "video"), video));

        var responseId = created.Id;
        var objectName = created.Storage.ObjectName!;
        Assert.Equal("stored", created.Storage.Status);
        Assert.Equal(2, created.VisitorNumber!.Value);
        Assert.Equal(1500, created.ResponseData.GetProperty("durationMs").GetInt32());
        Assert.Matches(
            new Regex($"^experiment-responses/{DateTime.UtcNow:yyyy-MM-dd}/session-{sessionId:D}/video/[0-9]{{13}}_clip\\.webm$"),
            objectName);

        var stored = await _storage.Client.GetObjectAsync(TestStorage.Bucket, objectName);
        Assert.Equal("video/webm", stored.ContentType);
        Assert.Equal((ulong)video.Length, stored.Size);
        Assert.Equal(MetadataKeys.Order(), stored.Metadata.Keys.Order());
        Assert.Equal("2", stored.Metadata["visitorNumber"]);
        Assert.Equal("video", stored.Metadata["responseType"]);
        Assert.Equal("clip.webm", stored.Metadata["originalName"]);
        Assert.Equal(responseId.ToString("D"), stored.Metadata["responseId"]);
        Assert.Equal(video, await _storage.DownloadAsync(objectName));

        var (bytes, contentType) = await Uploads.DownloadAsync(_api.Client, responseId, session.SessionSecret!);
        Assert.Equal(video, bytes);
        Assert.Equal("video/webm", contentType);

        var counted = Assert.Single(uploads.GetMeasurementSnapshot());
        Assert.Equal("stored", counted.Tags[StorageTelemetry.OutcomeTag]);
        Assert.Equal("video", counted.Tags[StorageTelemetry.ResponseTypeTag]);
        Assert.Equal(video.Length, Assert.Single(sizes.GetMeasurementSnapshot()).Value);
        var span = Assert.Single(spans.Completed, a => a.OperationName == StorageTelemetry.UploadActivity
            && Equals(a.GetTagItem(StorageTelemetry.ResponseIdTag), responseId));
        Assert.Equal("stored", span.GetTagItem(StorageTelemetry.OutcomeTag));
    }

    [Fact]
    public async Task A_stored_upload_leaves_the_database_its_row_name_size_and_md5_and_none_of_its_bytes()
    {
        var session = await ApiCalls.StartSessionAsync(_api);
        var video = Uploads.RandomBytes(8 * 1024 * 1024, seed: 88);
        var md5 = Convert.ToBase64String(System.Security.Cryptography.MD5.HashData(video));
        var walBefore = await _api.ScalarAsync<string>("SELECT pg_current_wal_lsn()::text");

        var created = await ApiCalls.RecordAsync(_api.Client, Uploads.Multipart(Uploads.Fields(session.Id, "video"), video));

        var wal = await _api.ScalarAsync<long>($"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{walBefore}')::bigint");
        Assert.Equal("stored", created.Storage.Status);
        // A durable copy would put all 8 MiB through the WAL; the row and the session's counters are a few KiB.
        Assert.True(wal < 1024 * 1024, $"{wal} bytes of WAL for an upload of 8 MiB");
        Assert.Equal(0, await _api.ScalarAsync<long>("SELECT count(*) FROM storage_deliveries"));
        Assert.Equal($"stored {video.Length} {md5} 1", await _api.ScalarAsync<string>(
            "SELECT storage_status || ' ' || file_size_bytes || ' ' || file_md5 || ' ' || object_visitor_number " +
            $"FROM experiment_responses WHERE id = '{created.Id}' AND file_id = '{created.Storage.ObjectName}'"));
        Assert.Equal("1 1", await _api.ScalarAsync<string>(
            $"SELECT response_count || ' ' || file_count FROM experiment_sessions WHERE id = '{session.Id}'"));
        var stored = await _storage.Client.GetObjectAsync(TestStorage.Bucket, created.Storage.ObjectName!);
        Assert.Equal(md5, stored.Md5Hash);
        Assert.Equal(created.Id.ToString("D"), stored.Metadata["responseId"]);
        Assert.Equal(video, (await Uploads.DownloadAsync(_api.Client, created.Id, session.SessionSecret!)).Bytes);
    }

    [Fact]
    public async Task A_file_followed_by_more_fields_than_its_request_length_allows_for_is_stored_whole()
    {
        // The upload streams as many bytes as the request's length promises in its first chunk; a field after the
        // file makes that promise too long, so the first chunk breaks and the rest goes from what storage kept.
        var session = await ApiCalls.StartSessionAsync(_api);
        var video = Uploads.RandomBytes((1024 * 1024) - 1000, seed: 61);
        const string boundary = "----mindjourney-late-field";
        using var body = new MemoryStream();
        void Write(string text) => body.Write(Encoding.UTF8.GetBytes(text));
        foreach (var (name, value) in Uploads.Fields(session.Id, "video"))
        {
            Write($"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n");
        }

        Write($"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.webm\"\r\n");
        Write("Content-Type: video/webm\r\n\r\n");
        body.Write(video);
        Write($"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n{new string('n', 40_000)}\r\n");
        Write($"--{boundary}--\r\n");
        var content = new ByteArrayContent(body.ToArray());
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse($"multipart/form-data; boundary={boundary}");

        var created = await ApiCalls.RecordAsync(_api.Client, content);

        Assert.Equal("stored", created.Storage.Status);
        Assert.Equal(video, await _storage.DownloadAsync(created.Storage.ObjectName!));
        Assert.Equal(video, (await Uploads.DownloadAsync(_api.Client, created.Id, session.SessionSecret!)).Bytes);
        Assert.Equal(0, await _api.ScalarAsync<long>("SELECT count(*) FROM storage_deliveries"));
    }

    [Fact]
    public async Task An_upload_whose_session_fills_up_while_it_travels_is_refused_and_its_object_deleted()
    {
        var session = await ApiCalls.StartSessionAsync(_api);
        var video = Uploads.RandomBytes(1024 * 1024, seed: 50);
        await using var rowLock = await SessionRowLock.TakeAsync(_api.ConnectionString, session.Id);

        var upload = _api.Client.PostAsync("/api/response", Uploads.Multipart(Uploads.Fields(session.Id, "video"), video));
        await Uploads.WaitUntilAsync(async () => (await _storage.ListAsync("experiment-responses/")).Count == 1,
            "the upload's object is in storage");
        await rowLock.WaitForWaiterAsync();
        // Meanwhile a parallel upload of the same session takes its last file slot.
        await rowLock.ExecuteAsync($"UPDATE experiment_sessions SET file_count = 50 WHERE id = '{session.Id}'");
        await rowLock.ReleaseAsync();

        using var refused = await upload;
        var problem = await refused.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Contains("uploaded 50 files", problem, StringComparison.Ordinal);
        Assert.Empty(await _storage.ListAsync("experiment-responses/"));
        Assert.Equal(0, await _api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses WHERE session_id = '{session.Id}'"));
        Assert.Equal("0 0", await _api.ScalarAsync<string>(
            $"SELECT response_count || ' ' || stored_bytes FROM experiment_sessions WHERE id = '{session.Id}'"));
    }

    [Theory]
    [InlineData("the session's byte quota, known only at the file's end", HttpStatusCode.RequestEntityTooLarge)]
    [InlineData("a missing questionId, checked after the body", HttpStatusCode.BadRequest)]
    public async Task A_file_refused_once_it_has_arrived_leaves_nothing_in_storage(string why, HttpStatusCode refusal)
    {
        var session = await ApiCalls.StartSessionAsync(_api);
        var video = Uploads.RandomBytes(12 * 1024 * 1024, seed: 30); // more than a chunk: storage gets bytes before the end
        var fields = Uploads.Fields(session.Id, "video");
        if (refusal == HttpStatusCode.BadRequest)
        {
            fields.Remove("questionId");
        }
        else
        {
            // Room for a few bytes, not for this file: the check when it starts passes, the exact one at its end refuses.
            await _api.ExecuteAsync($"UPDATE experiment_sessions SET stored_bytes = {(1024L * 1024 * 1024) - 1024} " +
                $"WHERE id = '{session.Id}'");
        }

        // The bytes travel to storage as they arrive; storage must never see their end.
        using var refused = await _api.Client.PostAsync("/api/response", Uploads.Multipart(fields, video));

        Assert.Equal(refusal, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await _storage.ListAsync("experiment-responses/"));
        Assert.Equal(0, await _api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses WHERE session_id = '{session.Id}'"));
        _ = why;
    }

    [Fact]
    public async Task A_video_larger_than_kestrels_default_body_limit_is_accepted_while_json_keeps_its_1_MiB_limit()
    {
        var session = await ApiCalls.StartSessionAsync(_api);
        var sessionId = session.Id;
        var video = Uploads.RandomBytes(40 * 1024 * 1024, seed: 40); // Kestrel refuses bodies over ~28.6 MiB by default

        var created = await ApiCalls.RecordAsync(_api.Client, Uploads.Multipart(Uploads.Fields(sessionId, "video"), video));

        Assert.Equal("stored", created.Storage.Status);
        var stored = await _storage.Client.GetObjectAsync(TestStorage.Bucket, created.Storage.ObjectName!);
        Assert.Equal((ulong)video.Length, stored.Size);
        Assert.Equal(Convert.ToBase64String(System.Security.Cryptography.MD5.HashData(video)), stored.Md5Hash);
        Assert.Equal(video,
            (await Uploads.DownloadAsync(_api.Client, created.Id, session.SessionSecret!)).Bytes);
    }

    public static TheoryData<string, string, string> ClientFileNames => new()
    {
        { "path traversal", "filename=\"../../etc/passwd.webm\"", "passwd.webm" },
        { "windows path", "filename=\"C:\\\\Users\\\\me\\\\..\\\\clip.webm\"", "clip.webm" },
        { "control characters (RFC 5987)", "filename*=UTF-8''a%01b%07c%0A.webm", "abc.webm" },
        { "spaces and brackets", "filename=\"my video (1).webm\"", "my_video_1_.webm" },
        { "only dots", "filename=\"..\"", "file" },
        { "hidden file", "filename=\".bashrc\"", "bashrc" },
        { "over-long", $"filename=\"{new string('v', 300)}.webm\"", new string('v', 95) + ".webm" },
    };

    [Theory]
    [MemberData(nameof(ClientFileNames))]
    public async Task Client_file_names_are_sanitised_never_a_path(string why, string fileNameParameter, string expected)
    {
        var session = await ApiCalls.StartSessionAsync(_api);
        var sessionId = session.Id;
        var video = Uploads.RandomBytes(1024, seed: 3);

        var created = await ApiCalls.RecordAsync(_api.Client,
            Uploads.Multipart(Uploads.Fields(sessionId, "video"), video, fileDisposition: $"name=\"file\"; {fileNameParameter}"));

        var objectName = created.Storage.ObjectName!;
        var prefix = $"experiment-responses/{DateTime.UtcNow:yyyy-MM-dd}/session-{sessionId:D}/video/";
        Assert.StartsWith(prefix, objectName);
        var name = objectName[prefix.Length..];
        Assert.Matches(new Regex("^[0-9]{13}_[A-Za-z0-9._-]+$"), name);
        Assert.Equal(expected, name[14..]);
        Assert.DoesNotContain("..", name, StringComparison.Ordinal);
        var stored = Assert.Single(await _storage.ListAsync(prefix));
        Assert.Equal(objectName, stored.Name);
        Assert.DoesNotContain(stored.Metadata["originalName"], char.IsControl);
        Assert.Equal(video,
            (await Uploads.DownloadAsync(_api.Client, created.Id, session.SessionSecret!)).Bytes);
        _ = why;
    }

    [Fact]
    public async Task Voice_and_photo_uploads_and_an_email_answer_go_where_they_belong()
    {
        var session = await ApiCalls.StartSessionAsync(_api);
        var sessionId = session.Id;

        var voice = await ApiCalls.RecordAsync(_api.Client, Uploads.Multipart(Uploads.Fields(sessionId, "voice"),
            Uploads.RandomBytes(4096, 1), "audio/webm;codecs=opus", "name=\"file\"; filename=\"note.webm\""));
        var photo = await ApiCalls.RecordAsync(_api.Client, Uploads.Multipart(Uploads.Fields(sessionId, "photo"),
            Uploads.RandomBytes(2048, 2), "image/jpeg", "name=\"file\"; filename=\"me.jpg\""));
        var email = await ApiCalls.RecordAsync(_api.Client, JsonContent.Create(new
        {
            sessionId,
            levelId = "4",
            questionId = "q5",
            responseType = "email",
            responseData = "someone@example.org",
        }));

        Assert.Equal("stored", voice.Storage.Status);
        Assert.EndsWith("/voice/" + voice.Storage.ObjectName!.Split('/')[^1], voice.Storage.ObjectName!);
        Assert.Equal("audio/webm;codecs=opus",
            (await _storage.Client.GetObjectAsync(TestStorage.Bucket, voice.Storage.ObjectName!)).ContentType);
        Assert.Equal("stored", photo.Storage.Status);
        Assert.EndsWith("_me.jpg", photo.Storage.ObjectName!);
        Assert.Equal("none", email.Storage.Status);
        Assert.Null(email.Storage.ObjectName);
        Assert.Null(email.FileUrl);
        Assert.Equal(2, (await _storage.ListAsync($"experiment-responses/")).Count);

        using var download = await _api.Client.GetAsync($"/api/download/{email.Id}",
            session.SessionSecret!);
        Assert.Equal(HttpStatusCode.NotFound, download.StatusCode);
        Assert.Equal("application/problem+json", download.Content.Headers.ContentType?.MediaType);
        using var unknown = await _api.Client.GetAsync($"/api/download/{Guid.NewGuid()}", session.SessionSecret!);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_number_back_filled_later_reaches_stored_objects_and_pending_deliveries()
    {
        // A session that fell back to no number (the sequence was exhausted), as the admin recovery finds them.
        await ApiCalls.StartSessionAsync(_api);
        await ApiCalls.StartSessionAsync(_api);
        await _api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence MAXVALUE 2");
        var session = await ApiCalls.StartSessionAsync(_api);
        Assert.Null(session.VisitorNumber);
        var sessionId = session.Id;

        var patched = await ApiCalls.RecordTextAsync(_api.Client, sessionId, "first");
        var swept = await ApiCalls.RecordTextAsync(_api.Client, sessionId, "second");
        await Uploads.WaitUntilStoredAsync(_api, patched.Id);
        await Uploads.WaitUntilStoredAsync(_api, swept.Id);
        Assert.Equal("", (await _storage.Client.GetObjectAsync(TestStorage.Bucket, patched.Storage.ObjectName!)).Metadata["visitorNumber"]);
        await _storage.StopAsync();
        var pending = await ApiCalls.RecordAsync(_api.Client,
            Uploads.Multipart(Uploads.Fields(sessionId, "video"), Uploads.RandomBytes(5000, 9)));
        Assert.Equal("pending", pending.Storage.Status);
        await _storage.StartAgainAsync();

        // What the recovery does in the database, then its call for each stored object.
        await _api.ExecuteAsync($"""
            UPDATE users SET visitor_number = 77 WHERE id = '{session.UserId.ToString()}';
            UPDATE experiment_sessions SET visitor_number = 77 WHERE id = '{sessionId}';
            UPDATE experiment_responses SET visitor_number = 77 WHERE session_id = '{sessionId}';
            """);
        var objectNumbers = _api.Hosts[0].Services.GetRequiredService<StoredObjectNumbers>();
        Assert.True(await objectNumbers.UpdateVisitorNumberAsync(patched.Storage.ObjectName!, 77, CancellationToken.None));

        var first = await _storage.Client.GetObjectAsync(TestStorage.Bucket, patched.Storage.ObjectName!);
        Assert.Equal("77", first.Metadata["visitorNumber"]);
        Assert.Equal(MetadataKeys.Order(), first.Metadata.Keys.Order());
        Assert.Equal("first", Encoding.UTF8.GetString(await _storage.DownloadAsync(first.Name)));

        // The pending upload is delivered with the number current at delivery; the object nobody patched is
        // brought in line by the worker.
        await Uploads.WaitUntilStoredAsync(_api, pending.Id);
        Assert.Equal("77",
            (await _storage.Client.GetObjectAsync(TestStorage.Bucket, pending.Storage.ObjectName!)).Metadata["visitorNumber"]);
        await Uploads.WaitUntilAsync(async () =>
            (await _storage.Client.GetObjectAsync(TestStorage.Bucket, swept.Storage.ObjectName!)).Metadata["visitorNumber"] == "77",
            "the worker patches the stale object");
        Assert.Equal(0, await _api.ScalarAsync<long>(
            "SELECT count(*) FROM experiment_responses " +
            "WHERE visitor_number IS DISTINCT FROM object_visitor_number AND storage_status = 'stored'"));
        Assert.False(await objectNumbers.UpdateVisitorNumberAsync("experiment-responses/not/there.txt", 5, CancellationToken.None));
    }
}
