using System.Net;
using System.Net.Http.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using MindJourney.Api.Experiments;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.AppHost.Tests;

/// <summary>Boots the real AppHost as <c>dotnet run --project MindJourney.AppHost</c> would (PostgreSQL mode
/// <c>auto</c>: on a machine with a docker client but no engine it must pick the local server, not hang), and plays
/// once over HTTP.</summary>
public sealed class AppHostTests
{
    [Fact]
    public async Task The_apphost_starts_postgres_and_the_api_in_auto_mode_and_a_visitor_gets_number_1()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await using var host = await LocalAppHost.StartAsync("auto", [], timeout.Token, "postgres", "api");
        var app = host.App;

        using var http = app.CreateHttpClient("api");
        var experiment = await http.GetAsAsync<ExperimentSummary>("/api/experiment", timeout.Token);
        var response = await http.PostAsJsonAsync("/api/session", new { experimentId = experiment.Id }, timeout.Token);
        var session = await response.Content.ReadAsAsync<StartedSession>(timeout.Token);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(1, session.VisitorNumber);
        var resources = app.Services.GetRequiredService<DistributedApplicationModel>().Resources;
        // The development loop: the API shares the machine's cores, and a load run exports a bounded sample of traces.
        var api = Assert.Single(resources, r => r.Name == "api");
        var environment = new EnvironmentCallbackContext(app.Services.GetRequiredService<DistributedApplicationExecutionContext>(),
            cancellationToken: timeout.Token);
        foreach (var callback in api.Annotations.OfType<EnvironmentCallbackAnnotation>())
        {
            await callback.Callback(environment);
        }

        Assert.Equal("0", environment.EnvironmentVariables["DOTNET_gcServer"]);
        Assert.Equal("0", environment.EnvironmentVariables["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"]);
        Assert.Equal("50", environment.EnvironmentVariables["MindJourney__Telemetry__MaxTracesPerSecond"]);
        var postgres = Assert.Single(resources, r => r.Name == "postgres");
        if (postgres is ExecutableResource)
        {
            Assert.True(File.Exists(Path.Combine(host.DataPath, "postgres", "PG_VERSION")),
                "the local server's data folder was initialised where configured");
        }
    }
}
