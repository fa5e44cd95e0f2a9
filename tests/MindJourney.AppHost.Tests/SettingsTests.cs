using Aspire.Hosting;

namespace MindJourney.AppHost.Tests;

/// <summary>A mode the AppHost does not know, or a replica count out of range, stops it while it builds its model,
/// with a message naming the setting, before anything is started.</summary>
public sealed class SettingsTests
{
    [Theory]
    [InlineData("MindJourney:Postgres", "containr")]
    [InlineData("MindJourney:Postgres", "sqlite")]
    [InlineData("MindJourney:StorageEmulator", "firebase")]
    [InlineData("MindJourney:StorageEmulator", "off")]
    [InlineData("MindJourney:ApiReplicas", "0")]
    public async Task An_unknown_or_invalid_setting_stops_the_apphost_with_a_message_naming_it(string setting, string value)
    {
        // The other settings are valid ones that need no container runtime; the one under test comes last and wins.
        string[] args = ["MindJourney:Postgres=local", "MindJourney:StorageEmulator=none", $"{setting}={value}"];

        var failure = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.MindJourney_AppHost>(args);
        });

        var messages = string.Join(" | ", Flatten(failure).Select(e => e.Message));
        Assert.Contains($"{setting} is '{value}'", messages, StringComparison.Ordinal);
    }

    private static IEnumerable<Exception> Flatten(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            yield return e;
        }
    }
}
