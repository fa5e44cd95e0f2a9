using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace MindJourney.AppHost.Tests;

/// <summary>The load harness as a dashboard resource: not started with the app, started on command against the
/// running API, and its exit code is its final state.</summary>
public sealed class LoadTestResourceTests
{
    [Fact]
    public async Task The_load_run_waits_for_its_start_command_and_ends_with_exit_code_0_against_a_healthy_api()
    {
        var dataPath = Path.Combine(Path.GetTempPath(), $"mindjourney-apphost-load-{Guid.NewGuid():N}");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try
        {
            var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.MindJourney_AppHost>(
                ["MindJourney:Postgres=local", "MindJourney:StorageEmulator=none", $"MindJourney:DataPath={dataPath}",
                 $"MindJourney:ApiPort={Ports.Free()}", "MindJourney:LoadTest:Users=4", "MindJourney:LoadTest:Duration=3s"], timeout.Token);
            await using var app = await builder.BuildAsync(timeout.Token);
            await app.StartAsync(timeout.Token);
            await app.ResourceNotifications.WaitForResourceHealthyAsync("api", timeout.Token);

            Assert.True(app.ResourceNotifications.TryGetCurrentState(LoadTestResources.ResourceName, out var before));
            Assert.Equal(KnownResourceStates.NotStarted, before.Snapshot.State?.Text);

            var start = await app.Services.GetRequiredService<ResourceCommandService>()
                .ExecuteCommandAsync(LoadTestResources.ResourceName, KnownResourceCommands.StartCommand, timeout.Token);
            Assert.True(start.Success, start.Message);
            var finished = await app.ResourceNotifications.WaitForResourceAsync(LoadTestResources.ResourceName,
                e => e.Snapshot.State?.Text is { } state && state != KnownResourceStates.NotStarted
                     && KnownResourceStates.TerminalStates.Contains(state), timeout.Token);

            Assert.Equal(0, finished.Snapshot.ExitCode);
            Assert.Single(Directory.EnumerateFiles(Path.Combine(dataPath, "load-reports"), "report.json", SearchOption.AllDirectories));
        }
        finally
        {
            try
            {
                Directory.Delete(dataPath, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
        }
    }

    [Fact]
    public async Task The_load_run_ends_with_a_non_zero_exit_code_when_the_audit_finds_a_mismatched_session()
    {
        var dataPath = Path.Combine(Path.GetTempPath(), $"mindjourney-apphost-load-{Guid.NewGuid():N}");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try
        {
            var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.MindJourney_AppHost>(
                ["MindJourney:Postgres=local", "MindJourney:StorageEmulator=none", $"MindJourney:DataPath={dataPath}",
                 $"MindJourney:ApiPort={Ports.Free()}", "MindJourney:LoadTest:Users=4", "MindJourney:LoadTest:Duration=3s"], timeout.Token);
            await using var app = await builder.BuildAsync(timeout.Token);
            await app.StartAsync(timeout.Token);
            await app.ResourceNotifications.WaitForResourceHealthyAsync("api", timeout.Token);

            // A session whose number disagrees with its visitor's: the audit after the run must report it.
            using var http = app.CreateHttpClient("api");
            var experiment = await http.GetFromJsonAsync<JsonElement>("/api/experiment", timeout.Token);
            var session = await (await http.PostAsJsonAsync("/api/session",
                    new { experimentId = experiment.GetProperty("id").GetGuid() }, timeout.Token))
                .EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonElement>(timeout.Token);
            await using (var connection = new NpgsqlConnection(await app.GetConnectionStringAsync("postgres", timeout.Token)))
            {
                await connection.OpenAsync(timeout.Token);
                await using var command = new NpgsqlCommand(
                    "UPDATE experiment_sessions SET visitor_number = visitor_number + 1000 WHERE id = $1", connection);
                command.Parameters.AddWithValue(session.GetProperty("id").GetGuid());
                Assert.Equal(1, await command.ExecuteNonQueryAsync(timeout.Token));
            }

            var start = await app.Services.GetRequiredService<ResourceCommandService>()
                .ExecuteCommandAsync(LoadTestResources.ResourceName, KnownResourceCommands.StartCommand, timeout.Token);
            Assert.True(start.Success, start.Message);
            var finished = await app.ResourceNotifications.WaitForResourceAsync(LoadTestResources.ResourceName,
                e => e.Snapshot.State?.Text is { } state && state != KnownResourceStates.NotStarted
                     && KnownResourceStates.TerminalStates.Contains(state), timeout.Token);

            Assert.NotEqual(0, finished.Snapshot.ExitCode);
            var report = Assert.Single(
                Directory.EnumerateFiles(Path.Combine(dataPath, "load-reports"), "report.json", SearchOption.AllDirectories));
            using var result = JsonDocument.Parse(await File.ReadAllTextAsync(report, timeout.Token));
            var audit = Assert.Single(result.RootElement.GetProperty("checks").EnumerateArray(),
                c => c.GetProperty("name").GetString() == "audit_clean");
            Assert.Equal("Failed", audit.GetProperty("outcome").GetString());
            Assert.Contains("mismatchedSessions 1", audit.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            try
            {
                Directory.Delete(dataPath, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
        }
    }
}
