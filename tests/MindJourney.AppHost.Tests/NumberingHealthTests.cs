using System.Net.Http.Json;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MindJourney.Api.Experiments;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.AppHost.Tests;

/// <summary>The API's numbering health reaches the dashboard: the api resource turns Degraded, with the reason, while
/// a number is held twice (its /health still answers 200 then), and Healthy again once that is fixed.</summary>
public sealed class NumberingHealthTests
{
    [Fact]
    public async Task A_number_held_twice_turns_the_api_resource_degraded_with_the_reason_until_fixed()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        await using var host = await LocalAppHost.StartAsync("health", LocalAppHost.Local, timeout.Token);
        var app = host.App;
        using var http = app.CreateHttpClient("api");
        var experimentId = (await http.GetAsAsync<ExperimentSummary>("/api/experiment", timeout.Token)).Id;
        (await http.PostAsJsonAsync("/api/session", new { experimentId }, timeout.Token)).EnsureSuccessStatusCode();

        // The second visitor's session takes the first visitor's number, as the API's own health tests do.
        var second = await (await http.PostAsJsonAsync("/api/session", new { experimentId }, timeout.Token))
            .EnsureSuccessStatusCode().Content.ReadAsAsync<StartedSession>(timeout.Token);
        var secondId = second.Id;
        await host.ExecuteAsync($"UPDATE experiment_sessions SET visitor_number = 1 WHERE id = '{secondId}'", timeout.Token);

        // Aspire looks again within 30 s while the API is healthy.
        var degraded = await app.ResourceNotifications.WaitForResourceAsync("api",
            e => e.Snapshot.HealthStatus == HealthStatus.Degraded, timeout.Token);
        var numbering = Assert.Single(degraded.Snapshot.HealthReports, r => r.Name == NumberingHealth.CheckName);
        Assert.Equal(HealthStatus.Degraded, numbering.Status);
        Assert.StartsWith($"Visitor number 1 is held twice: session {secondId} carries it, and so does another user.",
            numbering.Description, StringComparison.Ordinal);
        Assert.All(degraded.Snapshot.HealthReports.Where(r => r != numbering), r => Assert.Equal(HealthStatus.Healthy, r.Status));
        Assert.Equal("Degraded", await http.GetStringAsync("/health", timeout.Token));

        await host.ExecuteAsync($"UPDATE experiment_sessions SET visitor_number = 2 WHERE id = '{secondId}'", timeout.Token);
        await app.ResourceNotifications.WaitForResourceHealthyAsync("api", timeout.Token);
    }
}
