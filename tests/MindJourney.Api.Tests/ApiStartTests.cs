using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>The built API started as a deployment or a benchmark starts it: its own settings hold wherever it is
/// started from, and a fresh database's first start logs no error (nothing is wrong, so nothing is red).</summary>
[Collection(PostgresCollection.Name)]
public sealed class ApiStartTests(PostgresServer postgres)
{
    [Fact]
    public async Task Started_from_another_folder_on_a_fresh_database_the_api_reads_its_own_settings_and_logs_no_error()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var elsewhere = Directory.CreateTempSubdirectory("mindjourney-cwd-");
        try
        {
            await using var api = await ApiProcess.StartAsync(await postgres.CreateDatabaseAsync(),
                new Dictionary<string, string>(), timeout.Token, workingDirectory: elsewhere.FullName);
            using var client = new HttpClient { BaseAddress = api.Address };
            var experiment = await client.GetAsync("/api/experiment", timeout.Token);
            experiment.EnsureSuccessStatusCode();

            var lines = api.Output.Split('\n');
            // Errors would show as a red badge on a newcomer's first screen.
            Assert.DoesNotContain(lines, line => line.StartsWith("fail:", StringComparison.Ordinal)
                || line.StartsWith("crit:", StringComparison.Ordinal));
            // appsettings.json quiets database commands; without it each would be logged at Information.
            Assert.Contains(lines, line => line.Contains("Applying", StringComparison.Ordinal) && line.Contains("migration"));
            Assert.DoesNotContain(lines, line => line.StartsWith("info: Npgsql.Command", StringComparison.Ordinal)
                || line.StartsWith("info: Microsoft.EntityFrameworkCore.Database.Command", StringComparison.Ordinal));
        }
        finally
        {
            elsewhere.Delete(recursive: true);
        }
    }
}
