using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MindJourney.Api.Experiments;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.AppHost.Tests;

/// <summary>The load harness as a dashboard resource: not started with the app, started on command against the
/// running API, its progress and report folder in its console log, its metrics sent where the dashboard takes them,
/// and its exit code is its final state.</summary>
public sealed class LoadTestResourceTests
{
    private static readonly string[] Load = [.. LocalAppHost.Local, "MindJourney:LoadTest:Users=4", "MindJourney:LoadTest:Duration=3s"];

    [Fact]
    public async Task The_load_run_waits_for_its_start_command_logs_its_progress_sends_its_metrics_and_ends_with_exit_code_0()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        await using var dashboard = await OtlpReceiver.StartAsync();
        await using var host = await LocalAppHost.StartAsync("load",
            [.. Load, $"ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL={dashboard.Url}"], timeout.Token);
        var app = host.App;

        Assert.True(app.ResourceNotifications.TryGetCurrentState(LoadTestResources.ResourceName, out var before));
        Assert.Equal(KnownResourceStates.NotStarted, before.Snapshot.State?.Text);

        var finished = await RunLoadTestsAsync(app, timeout.Token);

        Assert.Equal(0, finished.Snapshot.ExitCode);
        var report = Assert.Single(
            Directory.EnumerateFiles(Path.Combine(host.DataPath, "load-reports"), "report.json", SearchOption.AllDirectories));
        var logs = await WaitForLogAsync(host, LoadTestResources.ResourceName, $"Reports: {Path.GetDirectoryName(report)}", timeout.Token);
        Assert.Matches(@"progress 00:0\d req [1-9][0-9,]* rps [0-9.]+ err 0 drop 0 p99 [0-9.]+ms", logs);
        await dashboard.WaitForMetricsAsync(["mindjourney.loadtest.requests", "mindjourney.loadtest.request.duration"], timeout.Token);

        // A second run keeps the first one's reports and names its own folder.
        await Task.Delay(TimeSpan.FromSeconds(1.1), timeout.Token); // folders are named to the second
        Assert.Equal(0, (await RunLoadTestsAsync(app, timeout.Token)).Snapshot.ExitCode);
        var reports = Directory.EnumerateFiles(Path.Combine(host.DataPath, "load-reports"), "report.json", SearchOption.AllDirectories)
            .ToList();
        Assert.Equal(2, reports.Count);
        var second = Assert.Single(reports, r => r != report);
        await WaitForLogAsync(host, LoadTestResources.ResourceName, $"Reports: {Path.GetDirectoryName(second)}", timeout.Token);
    }

    [Fact]
    public async Task The_load_run_starts_against_an_api_degraded_by_a_mismatched_session_and_ends_with_a_non_zero_exit_code()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        await using var host = await LocalAppHost.StartAsync("load", Load, timeout.Token);
        var app = host.App;

        // A session whose number disagrees with its visitor's: the API turns Degraded, and the audit after the run
        // must report it.
        using var http = app.CreateHttpClient("api");
        var experiment = await http.GetAsAsync<ExperimentSummary>("/api/experiment", timeout.Token);
        var session = await (await http.PostAsJsonAsync("/api/session", new { experimentId = experiment.Id }, timeout.Token))
            .EnsureSuccessStatusCode().Content.ReadAsAsync<StartedSession>(timeout.Token);
        await host.ExecuteAsync(
            $"UPDATE experiment_sessions SET visitor_number = visitor_number + 1000 WHERE id = '{session.Id}'", timeout.Token);
        await app.ResourceNotifications.WaitForResourceAsync("api", e => e.Snapshot.HealthStatus == HealthStatus.Degraded, timeout.Token);

        var finished = await RunLoadTestsAsync(app, timeout.Token);

        Assert.NotEqual(0, finished.Snapshot.ExitCode);
        var report = Assert.Single(
            Directory.EnumerateFiles(Path.Combine(host.DataPath, "load-reports"), "report.json", SearchOption.AllDirectories));
        // report.json is the harness's file format (its records are internal to it): read by its field names.
        using var result = JsonDocument.Parse(await File.ReadAllTextAsync(report, timeout.Token));
        var audit = Assert.Single(result.RootElement.GetProperty("checks").EnumerateArray(),
            c => c.GetProperty("name").GetString() == "audit_clean");
        Assert.Equal("Failed", audit.GetProperty("outcome").GetString());
        Assert.Contains("mismatchedSessions 1", audit.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("pilot-study-2")]
    public async Task The_load_run_plays_in_the_study_its_setting_names(string? study)
    {
        string[] settings = study is null ? Load : [.. Load, $"MindJourney:LoadTest:Study={study}"];
        await using var builder = await LocalAppHost.DescribeAsync(settings);

        var loadTests = Assert.Single(builder.Resources.OfType<ProjectResource>(), r => r.Name == LoadTestResources.ResourceName);
        var values = new List<object>();
        var context = new CommandLineArgsCallbackContext(values, CancellationToken.None);
        foreach (var callback in loadTests.Annotations.OfType<CommandLineArgsCallbackAnnotation>())
        {
            await callback.Callback(context);
        }

        var args = values.Select(v => v.ToString()).ToList();
        Assert.Equal("4", args[args.IndexOf("--users") + 1]);
        if (study is null)
        {
            Assert.DoesNotContain("--study", args);
        }
        else
        {
            Assert.Equal(study, args[args.IndexOf("--study") + 1]);
        }
    }

    private static async Task<ResourceEvent> RunLoadTestsAsync(DistributedApplication app, CancellationToken cancellationToken)
    {
        var started = DateTime.UtcNow; // a run before this one is terminal too: wait for this one's end
        var start = await app.Services.GetRequiredService<ResourceCommandService>()
            .ExecuteCommandAsync(LoadTestResources.ResourceName, KnownResourceCommands.StartCommand, cancellationToken);
        Assert.True(start.Success, start.Message);
        return await app.ResourceNotifications.WaitForResourceAsync(LoadTestResources.ResourceName,
            e => e.Snapshot.State?.Text is { } state && state != KnownResourceStates.NotStarted
                 && KnownResourceStates.TerminalStates.Contains(state) && e.Snapshot.StopTimeStamp > started, cancellationToken);
    }

    /// <summary>The resource's log once it holds <paramref name="line"/>: a finished process's last lines may reach
    /// the log a moment after its exit.</summary>
    private static async Task<string> WaitForLogAsync(LocalAppHost host, string resource, string line, CancellationToken cancellationToken)
    {
        var logs = await host.LogsAsync(resource);
        while (!logs.Contains(line, StringComparison.Ordinal))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
            logs = await host.LogsAsync(resource);
        }

        return logs;
    }
}
