using System.Text;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace MindJourney.AppHost.Tests;

/// <summary>The AppHost as most of these tests run it: the machine's PostgreSQL in a temporary data folder, no storage
/// emulator, the API on a free port, started and healthy. Disposing stops it and deletes the data folder.</summary>
internal sealed class LocalAppHost : IAsyncDisposable
{
    private LocalAppHost(DistributedApplication app, string dataPath)
    {
        App = app;
        DataPath = dataPath;
    }

    public DistributedApplication App { get; }

    public string DataPath { get; }

    /// <param name="name">Names the data folder, so a leftover one says which test left it.</param>
    /// <param name="settings">More AppHost settings, <c>Key=Value</c>.</param>
    public static async Task<LocalAppHost> StartAsync(string name, string[] settings, CancellationToken cancellationToken)
    {
        var dataPath = Path.Combine(Path.GetTempPath(), $"mindjourney-apphost-{name}-{Guid.NewGuid():N}");
        DistributedApplication? app = null;
        try
        {
            var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.MindJourney_AppHost>(
                ["MindJourney:Postgres=local", "MindJourney:StorageEmulator=none", $"MindJourney:DataPath={dataPath}",
                 $"MindJourney:ApiPort={Ports.Free()}", .. settings], cancellationToken);
            app = await builder.BuildAsync(cancellationToken);
            await app.StartAsync(cancellationToken);
            await app.ResourceNotifications.WaitForResourceHealthyAsync("api", cancellationToken);
            return new LocalAppHost(app, dataPath);
        }
        catch
        {
            if (app is not null)
            {
                await app.DisposeAsync();
            }

            DeleteFolder(dataPath);
            throw;
        }
    }

    public async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(await App.GetConnectionStringAsync("postgres", cancellationToken));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Every line the dashboard has for the resource so far (its console and the AppHost's own lines about it).</summary>
    public async Task<string> LogsAsync(string name)
    {
        var resource = App.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == name);
        var text = new StringBuilder();
        await foreach (var batch in App.Services.GetRequiredService<ResourceLoggerService>().GetAllAsync(resource))
        {
            foreach (var line in batch)
            {
                text.AppendLine(line.Content);
            }
        }

        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        DeleteFolder(DataPath);
    }

    private static void DeleteFolder(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
