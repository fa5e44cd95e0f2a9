using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;

namespace MindJourney.AppHost.Tests;

/// <summary>Boots the real AppHost (local PostgreSQL from the machine's binaries, the API) as
/// <c>dotnet run --project MindJourney.AppHost</c> would, and plays once over HTTP.</summary>
public sealed class AppHostTests
{
    [Fact]
    public async Task The_apphost_starts_postgres_and_the_api_and_a_visitor_gets_number_1()
    {
        var dataPath = Path.Combine(Path.GetTempPath(), $"mindjourney-apphost-{Guid.NewGuid():N}");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.MindJourney_AppHost>(
                ["MindJourney:Postgres=local", $"MindJourney:DataPath={dataPath}"], timeout.Token);
            await using var app = await builder.BuildAsync(timeout.Token);
            await app.StartAsync(timeout.Token);

            await app.ResourceNotifications.WaitForResourceHealthyAsync("postgres", timeout.Token);
            await app.ResourceNotifications.WaitForResourceHealthyAsync("api", timeout.Token);

            using var http = app.CreateHttpClient("api");
            var experiment = await http.GetFromJsonAsync<JsonElement>("/api/experiment", timeout.Token);
            var response = await http.PostAsJsonAsync("/api/session", new { experimentId = experiment.GetProperty("id").GetGuid() }, timeout.Token);
            var session = await response.Content.ReadFromJsonAsync<JsonElement>(timeout.Token);

            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            Assert.Equal(1, session.GetProperty("visitorNumber").GetInt32());
            Assert.True(File.Exists(Path.Combine(dataPath, "postgres", "PG_VERSION")), "the local server's data folder was initialised where configured");
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
