using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>A setting out of its range stops the API at start with a message naming it; nothing is clamped quietly
/// where the setting is used.</summary>
[Collection(PostgresCollection.Name)]
public sealed class SettingsTests(PostgresServer postgres)
{
    [Theory]
    [InlineData("MindJourney:RateLimit:SessionsPerWindow", "-1")]
    [InlineData("MindJourney:RateLimit:WindowSeconds", "0")]
    [InlineData("MindJourney:Telemetry:TraceSampleRatio", "2")]
    [InlineData("MindJourney:Telemetry:MaxTracesPerSecond", "0")]
    [InlineData("MindJourney:Database:MaxPoolSize", "0")]
    [InlineData("MindJourney:Database:BulkMaxPoolSize", "-3")]
    [InlineData("MindJourney:Shutdown:TimeoutSeconds", "0")]
    [InlineData("MindJourney:Shutdown:DrainSeconds", "-1")]
    [InlineData("MindJourney:ForwardedHeaders:ForwardLimit", "0")]
    [InlineData("MindJourney:Health:RecentNumbers", "0")]
    [InlineData("MindJourney:Health:CheckIntervalSeconds", "-5")]
    [InlineData("MindJourney:Storage:MaxParallelDeliveries", "0")]
    [InlineData("MindJourney:Storage:UploadTimeoutSeconds", "0")]
    [InlineData("MindJourney:Storage:MinUploadBytesPerSecond", "0")]
    [InlineData("MindJourney:Storage:RetryMaxDelaySeconds", "0.5")] // below the initial delay (2 s)
    [InlineData("MindJourney:Storage:MaxFilesPerSession", "-1")]
    [InlineData("MindJourney:Responses:MaxPageBytes", "0")]
    [InlineData("MindJourney:Idempotency:PruneIntervalSeconds", "0")]
    [InlineData("MindJourney:Idempotency:KeyLifetimeHours", "-1")]
    [InlineData("MindJourney:PageFraming:AllowedOrigins", "http://worker.mturk.com")] // not https
    [InlineData("MindJourney:PageFraming:AllowedOrigins", "https://worker.mturk.com/mturk")] // a path, not an origin
    [InlineData("MindJourney:PageFraming:AllowedOrigins", "https://*.mturk.com")]
    public async Task An_invalid_setting_stops_the_start_with_a_message_naming_it(string setting, string value)
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => TestApi.StartAsync(postgres,
            settings: new Dictionary<string, string?> { [setting] = value }));

        Assert.Contains(setting, AdminKeyGuessingTests.Messages(failure), StringComparison.Ordinal);
    }
}
