using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>Storage refusing one upload (a 4xx other than 408/429) is not an outage: that upload is kept, backed off
/// and reported by the audit, and the others are delivered as usual.</summary>
[Collection(PostgresCollection.Name)]
public sealed class StorageRejectionTests(PostgresServer postgres)
{
    private const string AdminKey = "test-admin-key-rejections-8b1d4f0e92c7";

    [Fact]
    public async Task An_upload_storage_refuses_is_reported_and_does_not_hold_back_the_others()
    {
        // Storage that takes no request body over 1 MiB: it answers 413 to the big upload, whatever the retry.
        await using var storage = await TestStorage.StartAsync(maxRequestBodySize: 1024 * 1024);
        await using var api = await TestApi.StartAsync(postgres, storage: storage, settings: new Dictionary<string, string?>
        {
            ["Admin:ApiKey"] = AdminKey,
            ["MindJourney:Storage:RetryMaxDelaySeconds"] = "300",
        });
        var session = await Uploads.NewSessionAsync(api);
        var sessionId = session.Id;

        var big = await Uploads.PostCreatedAsync(api.Client,
            Uploads.Multipart(Uploads.Fields(sessionId, "video"), Uploads.RandomBytes(3 * 1024 * 1024, 41)));
        Assert.Equal("pending", big.Storage.Status);
        var bigId = big.Id;
        Assert.NotNull(await api.ScalarAsync<DateTime?>($"SELECT rejected_at FROM storage_deliveries WHERE response_id = '{bigId}'"));
        Assert.Contains("413", await api.ScalarAsync<string>($"SELECT last_error FROM storage_deliveries WHERE response_id = '{bigId}'"),
            StringComparison.Ordinal);
        Assert.True(await api.ScalarAsync<bool>(
            $"SELECT next_attempt_at > now() + interval '200 seconds' FROM storage_deliveries WHERE response_id = '{bigId}'"),
            "the refused upload is not backed off for the longest delay");

        // Right after the refusal, the next upload goes straight to storage: no outage was assumed.
        var small = await Uploads.PostCreatedAsync(api.Client,
            Uploads.Multipart(Uploads.Fields(sessionId, "video"), Uploads.RandomBytes(100_000, 42)));
        Assert.Equal("stored", small.Storage.Status);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/visitor-numbers/audit");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        using var response = await api.Client.SendAsync(request);
        var audit = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, audit.GetProperty("rejectedUploads").GetInt64());
        Assert.Equal(1, audit.GetProperty("pendingUploads").GetInt64());

        // Still pending and downloadable: nothing acknowledged is lost.
        Assert.Equal(3 * 1024 * 1024,
            (await Uploads.DownloadAsync(api.Client, bigId, session.SessionSecret!)).Bytes.Length);
    }
}
