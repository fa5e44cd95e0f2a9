using Aspire.Hosting;

namespace MindJourney.AppHost.Tests;

/// <summary>A setting the AppHost does not know stops it while it builds its model, with a message naming the setting,
/// before anything is started.</summary>
public sealed class SettingsTests
{
    [Theory]
    [InlineData("MindJourney:Postgres", "containr")]
    [InlineData("MindJourney:Postgres", "sqlite")]
    [InlineData("MindJourney:StorageEmulator", "firebase")]
    [InlineData("MindJourney:StorageEmulator", "off")]
    public async Task An_unknown_mode_stops_the_apphost_with_a_message_naming_the_setting(string setting, string value)
    {
        // The other mode is a valid one that needs no container runtime.
        string[] args = setting == "MindJourney:Postgres"
            ? [$"{setting}={value}", "MindJourney:StorageEmulator=none"]
            : [$"{setting}={value}", "MindJourney:Postgres=local"];

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
