using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;
using MindJourney.Api.Admin;
using MindJourney.Api.Storage;
using MindJourney.Api.Telemetry;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>The database's disk is a shared budget: against a Production API (limits at their defaults unless a test
/// shrinks one to reach it cheaply), one client's accepted upload bytes per hour are bounded (429), the pending bytes
/// of everyone have a ceiling (507), both refuse before anything is written, and the pending bytes are a gauge and,
/// near the ceiling, a reason in the health report. No storage is configured, so every upload stays pending.</summary>
[Collection(PostgresCollection.Name)]
public sealed class UploadBudgetTests(PostgresServer postgres)
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public async Task A_client_past_its_upload_bytes_for_the_hour_gets_429_with_Retry_After_and_nothing_is_written()
    {
        await using var api = await TestApi.StartAsync(postgres, productionLimits: true, settings: new Dictionary<string, string?>
        {
            ["MindJourney:Storage:UploadBytesPerClientPerHour"] = MiB.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        using var client = SourceAddress.Client(api.Hosts[0].ServerAddress, "127.0.0.2");
        using var neighbour = SourceAddress.Client(api.Hosts[0].ServerAddress, "127.0.0.3");
        var experimentId = await api.ActiveExperimentIdAsync();
        // Sessions are free: the budget is the address's, whatever session the bytes go to.
        var first = (await SessionNumberingTests.CreateSessionAsync(client, new { experimentId })).Id;
        var second = (await SessionNumberingTests.CreateSessionAsync(client, new { experimentId })).Id;

        await Uploads.PostCreatedAsync(client, Uploads.Multipart(Uploads.Fields(first, "video"), Uploads.RandomBytes(600 * 1024, 1)));
        var (responses, deliveries, bytes) = await CountsAsync(api);

        // Past the budget: a file (refused as soon as its size is known), a text answer that would be stored too,
        // and then any multipart upload before its body is read.
        await AssertRefusedAsync(client, Uploads.Multipart(Uploads.Fields(second, "video"), Uploads.RandomBytes(600 * 1024, 2)),
            HttpStatusCode.TooManyRequests, maxRetryAfterSeconds: 3600);
        await Uploads.PostCreatedAsync(client, Uploads.Multipart(Uploads.Fields(second, "voice"), Uploads.RandomBytes(300 * 1024, 3),
            fileContentType: "audio/webm", fileDisposition: "name=\"file\"; filename=\"a.webm\""));
        await AssertRefusedAsync(client, JsonContent.Create(new
        {
            sessionId = second,
            levelId = "1",
            questionId = "q1",
            responseType = "text",
            responseData = new string('t', 200 * 1024),
        }), HttpStatusCode.TooManyRequests, maxRetryAfterSeconds: 3600);
        var (afterResponses, afterDeliveries, afterBytes) = await CountsAsync(api);
        Assert.Equal((responses + 1, deliveries + 1, bytes + (300 * 1024)), (afterResponses, afterDeliveries, afterBytes));

        // A small answer still fits, and a file that spends the rest exactly; then a file is refused before it is read.
        await Uploads.PostTextAsync(client, second, "short");
        await Uploads.PostCreatedAsync(client, Uploads.Multipart(Uploads.Fields(second, "voice"), Uploads.RandomBytes((124 * 1024) - 5, 4),
            fileContentType: "audio/webm", fileDisposition: "name=\"file\"; filename=\"b.webm\""));
        await AssertRefusedAsync(client, Uploads.Multipart(Uploads.Fields(second, "video"), Uploads.RandomBytes(1024, 5)),
            HttpStatusCode.TooManyRequests, maxRetryAfterSeconds: 3600);

        // Another address has its own budget.
        var theirs = (await SessionNumberingTests.CreateSessionAsync(neighbour, new { experimentId })).Id;
        await Uploads.PostCreatedAsync(neighbour, Uploads.Multipart(Uploads.Fields(theirs, "video"), Uploads.RandomBytes(600 * 1024, 6)));
    }

    [Fact]
    public async Task Pending_bytes_at_the_ceiling_answer_507_with_Retry_After_nothing_is_written_and_health_says_why()
    {
        await using var api = await TestApi.StartAsync(postgres, productionLimits: true, settings: new Dictionary<string, string?>(
            AdminTests.WithAdminKey)
        {
            ["MindJourney:Storage:MaxPendingBytes"] = MiB.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["MindJourney:Health:CheckIntervalSeconds"] = "0.2",
        });
        var host = api.Hosts[0];
        using var pendingBytes = new MetricCollector<long>(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            StorageTelemetry.SourceName, "mindjourney.storage.pending.bytes");
        var session = await Uploads.NewSessionAsync(api);
        var sessionId = session.Id;

        Assert.DoesNotContain("MaxPendingBytes", await AdminHealthReasonAsync(api));
        await Uploads.PostCreatedAsync(api.Client,
            Uploads.Multipart(Uploads.Fields(sessionId, "video"), Uploads.RandomBytes(850 * 1024, 1)));
        // An answer's text is pending too, but the outbox holds no copy of it (its object is written from the answer's
        // own row, under its session's quota): it takes nothing from the ceiling.
        await Uploads.PostTextAsync(api.Client, sessionId, new string('t', 150 * 1024));
        var before = await CountsAsync(api);
        Assert.Equal((2, 2, 850 * 1024), before);

        // 850 KiB of 1 MiB pending: over 80 %, so the health report says why; the gauge reports the bytes.
        await Uploads.WaitUntilAsync(async () => (await AdminHealthReasonAsync(api)).Contains("MindJourney:Storage:MaxPendingBytes",
            StringComparison.Ordinal), "the health report's reason");
        using (var health = await api.Client.GetAsync("/health"))
        {
            Assert.Equal("Degraded", await health.Content.ReadAsStringAsync());
        }

        await Uploads.WaitUntilAsync(() =>
        {
            pendingBytes.RecordObservableInstruments();
            return Task.FromResult(pendingBytes.LastMeasurement?.Value == 850 * 1024);
        }, "the pending bytes gauge");

        // 200 KiB more would pass the ceiling: a file is refused; a text answer and an answer that stores nothing are not.
        await AssertRefusedAsync(api.Client, Uploads.Multipart(Uploads.Fields(sessionId, "video"), Uploads.RandomBytes(200 * 1024, 2)),
            HttpStatusCode.InsufficientStorage, maxRetryAfterSeconds: 60);
        Assert.Equal(before, await CountsAsync(api));
        await Uploads.PostTextAsync(api.Client, sessionId, new string('t', 200 * 1024));
        Assert.Equal((3, 3, 850 * 1024), await CountsAsync(api));
        using (var email = await api.Client.PostAsJsonAsync("/api/response", new
        {
            sessionId,
            levelId = "1",
            questionId = "q2",
            responseType = "email",
            responseData = "someone@example.org",
        }))
        {
            Assert.Equal(HttpStatusCode.Created, email.StatusCode);
        }

        // Filled to the ceiling, even a small file is refused before its body is read.
        await Uploads.PostCreatedAsync(api.Client,
            Uploads.Multipart(Uploads.Fields(sessionId, "video"), Uploads.RandomBytes(174 * 1024, 3)));
        Assert.Equal(4, (await CountsAsync(api)).Deliveries); // an answer that stores nothing has no delivery
        await AssertRefusedAsync(api.Client, Uploads.Multipart(Uploads.Fields(sessionId, "video"), Uploads.RandomBytes(16, 4)),
            HttpStatusCode.InsufficientStorage, maxRetryAfterSeconds: 60);
        Assert.Equal(MiB, (await CountsAsync(api)).Bytes);
    }

    [Fact]
    public async Task At_the_defaults_a_client_has_2_GiB_an_hour_and_everyone_10_GiB_pending()
    {
        await using var api = await TestApi.StartAsync(postgres, productionLimits: true);
        var options = api.Hosts[0].Services.GetRequiredService<IOptions<StorageOptions>>().Value;
        Assert.Equal(2L * 1024 * MiB, options.UploadBytesPerClientPerHour);
        Assert.Equal(10L * 1024 * MiB, options.MaxPendingBytes);

        var session = await Uploads.NewSessionAsync(api);
        var created = await Uploads.PostCreatedAsync(api.Client,
            Uploads.Multipart(Uploads.Fields(session.Id, "video"), Uploads.RandomBytes(64 * 1024, 1)));
        Assert.Equal("pending", created.Storage.Status);
    }

    [Theory]
    [InlineData("MindJourney:Storage:MaxPendingBytes", "0")]
    [InlineData("MindJourney:Storage:UploadBytesPerClientPerHour", "-1")]
    public async Task An_invalid_budget_stops_the_start_with_a_message_naming_the_setting(string setting, string value)
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => TestApi.StartAsync(postgres,
            settings: new Dictionary<string, string?> { [setting] = value }, productionLimits: true));

        Assert.Contains(setting, AdminKeyGuessingTests.Messages(failure), StringComparison.Ordinal);
    }

    private static async Task AssertRefusedAsync(HttpClient client, HttpContent content, HttpStatusCode expected, int maxRetryAfterSeconds)
    {
        using var response = await client.PostAsync("/api/response", content);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal((int)expected, JsonSerializer.Deserialize<ProblemDetails>(body, ApiContracts.Json)!.Status);
        var retryAfter = response.Headers.RetryAfter?.Delta;
        Assert.True(retryAfter is { } wait && wait.TotalSeconds >= 1 && wait.TotalSeconds <= maxRetryAfterSeconds,
            $"Retry-After: {response.Headers.RetryAfter}");
    }

    /// <summary>Answers, pending objects (texts included), and the bytes of the durable copies the outbox holds.</summary>
    private static async Task<(long Responses, long Deliveries, long Bytes)> CountsAsync(TestApi api) => (
        await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"),
        await api.ScalarAsync<long>("SELECT count(*) FROM storage_deliveries"),
        await api.ScalarAsync<long>("SELECT coalesce(sum(octet_length(data)), 0) FROM storage_delivery_chunks"));

    private static async Task<string> AdminHealthReasonAsync(TestApi api)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/visitor-numbers/health");
        request.Headers.Add("X-Admin-Key", AdminTests.AdminKey);
        using var response = await api.Client.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadAsAsync<NumberingHealthReport>()).Reason ?? "";
    }
}
