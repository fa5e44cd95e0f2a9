using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using MindJourney.Api.Responses;
using MindJourney.Api.Storage;
using MindJourney.Api.Telemetry;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>Nothing acknowledged is lost: an upload accepted while storage is down is kept in the database,
/// answered <c>pending</c>, and delivered exactly once when storage is back, by whichever replica, also after an
/// API restart.</summary>
[Collection(PostgresCollection.Name)]
public sealed class StorageOutageTests(PostgresServer postgres)
{
    [Fact]
    public async Task Storage_down_answers_pending_and_the_worker_delivers_once_when_it_is_back()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, storage: storage);
        var session = await ApiCalls.StartSessionAsync(api);
        var sessionId = session.Id;
        var video = Uploads.RandomBytes(400 * 1024, seed: 11);
        var meters = api.Hosts[0].Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        using var uploads = new MetricCollector<long>(meters, StorageTelemetry.SourceName, "mindjourney.storage.uploads");
        using var pendingGauge = new MetricCollector<long>(meters, StorageTelemetry.SourceName, "mindjourney.storage.pending");
        await storage.StopAsync();

        var created = await ApiCalls.RecordAsync(api.Client, Uploads.Multipart(Uploads.Fields(sessionId, "video"), video));
        var text = await ApiCalls.RecordTextAsync(api.Client, sessionId, new { text = "still here" });

        var responseId = created.Id;
        var objectName = created.Storage.ObjectName!;
        Assert.Equal("pending", created.Storage.Status);
        Assert.Equal("pending", text.Storage.Status);
        Assert.Equal(objectName, created.FileId);
        Assert.Equal(1, await api.ScalarAsync<long>(
            $"SELECT count(*) FROM experiment_responses WHERE id = '{responseId}' AND storage_status = 'pending'"));
        // Storage did not answer: the durable copy is taken, slice by slice, before the 201.
        Assert.Equal(1, await api.ScalarAsync<long>(
            $"SELECT count(*) FROM storage_delivery_chunks WHERE response_id = '{responseId}'"));
        var deliveries = api.Hosts[0].Services.GetRequiredService<DeliveryOutbox>();
        Assert.Equal(2, await deliveries.CountPendingAsync());
        pendingGauge.RecordObservableInstruments();
        Assert.Equal(2, pendingGauge.LastMeasurement?.Value);
        Assert.Contains(uploads.GetMeasurementSnapshot(), m => (string?)m.Tags[StorageTelemetry.OutcomeTag] == "queued");

        // While pending, the download is served from the durable copy; the session's list says pending too.
        var (pendingBytes, pendingType) = await Uploads.DownloadAsync(api.Client, responseId, session.SessionSecret!);
        Assert.Equal(video, pendingBytes);
        Assert.Equal("video/webm", pendingType);
        var listed = await api.Client.GetFromJsonAsync<List<ResponseDetails>>($"/api/session/{sessionId}/responses",
            session.SessionSecret!);
        Assert.All(listed, r => Assert.Equal("pending", r.Storage.Status));
        using (var health = await api.Client.GetAsync("/health"))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
            Assert.Equal("Degraded", await health.Content.ReadAsStringAsync());
        }

        // Let the worker fail at least once more against the dead port, then bring storage back.
        await Uploads.WaitUntilAsync(
            () => Task.FromResult(uploads.GetMeasurementSnapshot().Any(m => (string?)m.Tags[StorageTelemetry.OutcomeTag] == "failed")),
            "a failed delivery attempt while storage is down");
        await storage.StartAgainAsync();
        await Uploads.WaitUntilStoredAsync(api, responseId);
        await Uploads.WaitUntilStoredAsync(api, text.Id);

        var prefix = $"experiment-responses/{DateTime.UtcNow:yyyy-MM-dd}/session-{sessionId:D}/";
        var objects = await storage.ListAsync(prefix);
        Assert.Equal(2, objects.Count);
        Assert.Single(objects, o => o.Name == objectName);
        Assert.Equal(video, await storage.DownloadAsync(objectName));
        Assert.Equal("still here", System.Text.Encoding.UTF8.GetString(await storage.DownloadAsync(text.Storage.ObjectName!)));
        Assert.Equal(0, await deliveries.CountPendingAsync());
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM storage_delivery_chunks"));
        pendingGauge.RecordObservableInstruments();
        Assert.Equal(0, pendingGauge.LastMeasurement?.Value);
        Assert.Equal(2, uploads.GetMeasurementSnapshot().Count(m => (string?)m.Tags[StorageTelemetry.OutcomeTag] == "stored"));
        Assert.Equal(video, (await Uploads.DownloadAsync(api.Client, responseId, session.SessionSecret!)).Bytes);
    }

    [Fact]
    public async Task Storage_that_stalls_past_the_deadline_gets_the_durable_copy_answered_pending_and_delivered_later()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var relay = StorageRelay.To(storage);
        await using var api = await TestApi.StartAsync(postgres, storage: storage, settings: new Dictionary<string, string?>
        {
            ["STORAGE_EMULATOR_HOST"] = relay.HostAndPort,
            ["MindJourney:Storage:UploadTimeoutSeconds"] = "1",
        });
        var session = await ApiCalls.StartSessionAsync(api);
        var video = Uploads.RandomBytes(3 * 1024 * 1024, seed: 12);
        relay.HoldAfter(256 * 1024); // storage takes the first bytes, then goes quiet

        var created = await ApiCalls.RecordAsync(api.Client, Uploads.Multipart(Uploads.Fields(session.Id, "video"), video));

        Assert.Equal("pending", created.Storage.Status);
        Assert.Equal(3, await api.ScalarAsync<long>(
            $"SELECT count(*) FROM storage_delivery_chunks WHERE response_id = '{created.Id}'"));
        Assert.Equal(created.Storage.ObjectName, await api.ScalarAsync<string>(
            $"SELECT object_name FROM storage_deliveries WHERE response_id = '{created.Id}'"));
        Assert.Empty(await storage.ListAsync("experiment-responses/"));

        relay.Release();
        await Uploads.WaitUntilStoredAsync(api, created.Id);
        var stored = Assert.Single(await storage.ListAsync("experiment-responses/"));
        Assert.Equal(created.Storage.ObjectName, stored.Name);
        Assert.Equal(video, await storage.DownloadAsync(stored.Name));
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM storage_delivery_chunks"));
    }

    [Fact]
    public async Task Failed_attempts_open_the_outage_circuit_and_then_attempts_do_not_reach_storage()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, storage: storage);
        var session = await ApiCalls.StartSessionAsync(api);
        var sessionId = session.Id;
        // Polly's meter is process-wide: events are told apart by the pipeline's name.
        using var events = new MetricCollector<int>((object?)null, "Polly", "resilience.polly.strategy.events");
        await storage.StopAsync();

        var answers = new List<ResponseDetails>();
        for (var i = 0; i < 3; i++)
        {
            answers.Add(await ApiCalls.RecordTextAsync(api.Client, sessionId, new { text = $"answer {i}" }));
        }

        Assert.All(answers, a => Assert.Equal("pending", a.Storage.Status));
        // While it is open, attempts are put back without reaching storage: what the worker writes on a delivery it
        // did not try.
        await Uploads.WaitUntilAsync(async () => await api.ScalarAsync<long>(
            "SELECT count(*) FROM storage_deliveries WHERE last_error LIKE 'storage was unavailable moments ago%'") > 0,
            "an attempt left to later because the circuit is open",
            withinSeconds: 60); // in the full suite the first failures have taken more than 30 s
        // And the breaker said so on Polly's meter, under its pipeline's name (what the dashboard shows).
        Assert.Contains(events.GetMeasurementSnapshot(), m =>
            m.Tags.GetValueOrDefault("pipeline.name") as string == "storage-outage"
            && m.Tags.GetValueOrDefault("event.name") as string == "OnCircuitOpened");
    }

    [Fact]
    public async Task A_pending_upload_is_delivered_by_the_api_that_starts_after_a_restart()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, storage: storage);
        var session = await ApiCalls.StartSessionAsync(api);
        var sessionId = session.Id;
        var voice = Uploads.RandomBytes(64 * 1024, seed: 5);
        await storage.StopAsync();
        var created = await ApiCalls.RecordAsync(api.Client,
            Uploads.Multipart(Uploads.Fields(sessionId, "voice"), voice, "audio/webm", "name=\"file\"; filename=\"voice-1.webm\""));
        Assert.Equal("pending", created.Storage.Status);

        await api.RestartHostAsync();
        await storage.StartAgainAsync();

        var responseId = created.Id;
        await Uploads.WaitUntilStoredAsync(api, responseId);
        var stored = Assert.Single(await storage.ListAsync($"experiment-responses/{DateTime.UtcNow:yyyy-MM-dd}/session-{sessionId:D}/"));
        Assert.Equal(created.Storage.ObjectName!, stored.Name);
        Assert.Equal("1", stored.Metadata["visitorNumber"]);
        Assert.Equal(voice, (await Uploads.DownloadAsync(api.Client, responseId, session.SessionSecret!)).Bytes);
    }

    [Fact]
    public async Task Two_replicas_share_the_backlog_and_each_upload_is_delivered_exactly_once()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, instances: 2, storage: storage);
        var session = await ApiCalls.StartSessionAsync(api);
        var sessionId = session.Id;
        var collectors = api.Hosts.Select(h => new MetricCollector<long>(
            h.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            StorageTelemetry.SourceName, "mindjourney.storage.uploads")).ToList();
        await storage.StopAsync();

        var ids = new List<Guid>();
        for (var i = 0; i < 12; i++)
        {
            var client = api.Hosts[i % 2].CreateClient();
            var created = await ApiCalls.RecordAsync(client, Uploads.Multipart(Uploads.Fields(sessionId, "photo"),
                Uploads.RandomBytes(8 * 1024, seed: i), "image/png", $"name=\"file\"; filename=\"photo-{i}.png\""));
            Assert.Equal("pending", created.Storage.Status);
            ids.Add(created.Id);
        }

        await storage.StartAgainAsync();
        foreach (var id in ids)
        {
            await Uploads.WaitUntilStoredAsync(api, id);
        }

        Assert.Equal(12, (await storage.ListAsync($"experiment-responses/")).Count);
        // One successful upload per response across both replicas: no delivery ran twice.
        var stored = collectors.Sum(c => c.GetMeasurementSnapshot().Count(m => (string?)m.Tags[StorageTelemetry.OutcomeTag] == "stored"));
        Assert.Equal(12, stored);
        collectors.ForEach(c => c.Dispose());
    }

    [Fact]
    public async Task With_no_storage_configured_uploads_are_kept_pending_and_still_downloadable()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var session = await ApiCalls.StartSessionAsync(api);
        var sessionId = session.Id;
        var photo = Uploads.RandomBytes(10_000, seed: 4);

        var created = await ApiCalls.RecordAsync(api.Client,
            Uploads.Multipart(Uploads.Fields(sessionId, "photo"), photo, "image/jpeg", "name=\"file\"; filename=\"me.jpg\""));
        var text = await ApiCalls.RecordTextAsync(api.Client, sessionId, "an answer");

        Assert.Equal("pending", created.Storage.Status);
        Assert.Equal("pending", text.Storage.Status);
        Assert.EndsWith("_me.jpg", created.Storage.ObjectName!);
        var (bytes, contentType) = await Uploads.DownloadAsync(api.Client, created.Id,
            session.SessionSecret!);
        Assert.Equal(photo, bytes);
        Assert.Equal("image/jpeg", contentType);
        Assert.Equal("an answer"u8.ToArray(),
            (await Uploads.DownloadAsync(api.Client, text.Id, session.SessionSecret!)).Bytes);
        Assert.Equal(2, await api.Hosts[0].Services.GetRequiredService<DeliveryOutbox>().CountPendingAsync());
        using var health = await api.Client.GetAsync("/health");
        Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("Degraded", await health.Content.ReadAsStringAsync());
    }
}
