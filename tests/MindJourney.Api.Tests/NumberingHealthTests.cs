using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>/health turns Degraded, with the reason, while a number is held twice, a response disagrees with its
/// session, or an upload has been pending too long, and Healthy again once that is fixed.</summary>
[Collection(PostgresCollection.Name)]
public sealed class NumberingHealthTests(PostgresServer postgres)
{
    [Fact]
    public async Task A_duplicate_a_mismatched_response_and_an_old_pending_upload_each_degrade_health_with_the_reason_until_fixed()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, storage: storage,
            settings: new Dictionary<string, string?> { ["MindJourney:Health:CheckIntervalSeconds"] = "0" });
        var first = await Uploads.NewSessionAsync(api);
        var second = await Uploads.NewSessionAsync(api);
        var secondId = second.Id;
        var answer = await Uploads.PostTextAsync(api.Client, secondId, new { text = "hello" });
        await Uploads.WaitUntilStoredAsync(api, answer.Id);
        await WaitForHealthAsync(api, "Healthy");

        await api.ExecuteAsync($"UPDATE experiment_sessions SET visitor_number = 1 WHERE id = '{secondId}'");
        await WaitForHealthAsync(api, "Degraded");
        Assert.StartsWith($"Visitor number 1 is held twice: session {secondId} carries it, and so does another user.",
            await NumberingReasonAsync(api), StringComparison.Ordinal);
        await api.ExecuteAsync($"UPDATE experiment_sessions SET visitor_number = 2 WHERE id = '{secondId}'");
        await WaitForHealthAsync(api, "Healthy");

        await api.ExecuteAsync($"UPDATE experiment_responses SET visitor_number = 99 WHERE id = '{answer.Id}'");
        await WaitForHealthAsync(api, "Degraded");
        Assert.StartsWith($"Response {answer.Id} carries a visitor number other than its session's.",
            await NumberingReasonAsync(api), StringComparison.Ordinal);
        await api.ExecuteAsync($"UPDATE experiment_responses SET visitor_number = 2 WHERE id = '{answer.Id}'");
        await WaitForHealthAsync(api, "Healthy");

        // An upload accepted while storage is down, then aged past the limit (15 minutes by default).
        await storage.StopAsync();
        var pending = await Uploads.PostTextAsync(api.Client, first.Id, new { text = "later" });
        Assert.Equal("pending", pending.Storage.Status);
        await WaitForNumberingAsync(api, HealthStatus.Healthy);
        await api.ExecuteAsync(
            $"UPDATE storage_deliveries SET created_at = now() - interval '16 minutes' WHERE response_id = '{pending.Id}'");
        Assert.StartsWith("Uploads pending for more than 15 minutes", await NumberingReasonAsync(api), StringComparison.Ordinal);
        await storage.StartAgainAsync();
        await Uploads.WaitUntilStoredAsync(api, pending.Id);
        await WaitForHealthAsync(api, "Healthy");
    }

    /// <summary>/health answers its cached report for a second; wait out the cache, boundedly.</summary>
    private static async Task WaitForHealthAsync(TestApi api, string expected)
    {
        var last = "";
        for (var attempt = 0; attempt < 100; attempt++)
        {
            last = await api.Client.GetStringAsync("/health");
            if (last == expected)
            {
                return;
            }

            await Task.Delay(200);
        }

        Assert.Fail($"/health stayed {last}, expected {expected}; numbering: {(await NumberingEntryAsync(api)).Description}");
    }

    private static async Task<string> NumberingReasonAsync(TestApi api) =>
        (await WaitForNumberingAsync(api, HealthStatus.Degraded)).Description!;

    /// <summary>The numbering check's own entry (the reason), past the report's one-second cache, boundedly.</summary>
    private static async Task<HealthReportEntry> WaitForNumberingAsync(TestApi api, HealthStatus expected)
    {
        var entry = await NumberingEntryAsync(api);
        for (var attempt = 0; attempt < 100 && entry.Status != expected; attempt++)
        {
            await Task.Delay(200);
            entry = await NumberingEntryAsync(api);
        }

        Assert.Equal(expected, entry.Status);
        return entry;
    }

    private static async Task<HealthReportEntry> NumberingEntryAsync(TestApi api)
    {
        var report = await api.Hosts[0].Services.GetRequiredService<HealthCheckService>()
            .CheckHealthAsync(r => r.Name == "visitor-numbering");
        return report.Entries["visitor-numbering"];
    }
}
