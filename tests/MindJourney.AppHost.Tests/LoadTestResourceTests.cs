using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

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
}
