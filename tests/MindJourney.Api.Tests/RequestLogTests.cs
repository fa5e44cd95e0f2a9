using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>Logs in proportion to the load: a Play that succeeds writes no line at Information or above with the
/// settings the API ships with (appsettings.json); its counters and span carry the facts. Under load a line per request
/// or per statement would cost the console, the log exporter and the dashboard more than the Play itself.</summary>
[Collection(PostgresCollection.Name)]
public sealed class RequestLogTests(PostgresServer postgres)
{
    [Fact]
    public async Task Plays_that_succeed_write_no_line_at_information_or_above()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var experimentId = await api.ActiveExperimentIdAsync();
        var logs = new FakeLogCollector();
        api.Hosts[0].Services.GetRequiredService<ILoggerFactory>().AddProvider(new FakeLoggerProvider(logs));

        // Enough for Npgsql to prepare the numbering statements, which it does after a few runs.
        for (var i = 0; i < 10; i++)
        {
            await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId }, $"quiet-play-key-{i:D4}");
        }

        var loud = logs.GetSnapshot().Where(line => line.Level >= LogLevel.Information).ToList();
        Assert.True(loud.Count == 0, string.Join(" | ", loud.Select(line => $"{line.Category}: {line.Message}")));
    }
}
