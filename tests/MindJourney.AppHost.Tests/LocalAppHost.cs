using System.Text;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace MindJourney.AppHost.Tests;

/// <summary>The real AppHost as these tests run it: its data in a temporary folder, the API on a free port, so tests
/// in parallel and a developer's own AppHost do not collide. Disposing stops it and deletes the data folder it made.
/// </summary>
internal sealed class LocalAppHost : IAsyncDisposable
{
    /// <summary>The machine's PostgreSQL and no storage emulator: what most tests need, and the quickest start.</summary>
    public static readonly string[] Local = ["MindJourney:Postgres=local", "MindJourney:StorageEmulator=none"];

    private readonly bool _ownsDataPath;

    private LocalAppHost(DistributedApplication app, string dataPath, bool ownsDataPath)
    {
        App = app;
        DataPath = dataPath;
        _ownsDataPath = ownsDataPath;
    }

    public DistributedApplication App { get; }

    public string DataPath { get; }

    /// <summary>The AppHost's model with <paramref name="settings"/> (<c>Key=Value</c>), not built: for tests that read
    /// what it would run.</summary>
    public static Task<IDistributedApplicationTestingBuilder> DescribeAsync(string[] settings) =>
        DistributedApplicationTestingBuilder.CreateAsync<Projects.MindJourney_AppHost>(settings);

    /// <summary>Builds, starts and waits until <paramref name="healthy"/> (the api, unless told) are healthy.</summary>
    /// <param name="name">Names the data folder, so a leftover one says which test left it.</param>
    /// <param name="settings">The AppHost's settings, <c>Key=Value</c>; none leaves its own defaults, as <c>dotnet run</c>.</param>
    public static async Task<LocalAppHost> StartAsync(string name, string[] settings, CancellationToken cancellationToken,
        params string[] healthy)
    {
        var host = await BuildAsync(name, settings, cancellationToken);
        try
        {
            await host.App.StartAsync(cancellationToken);
            foreach (var resource in healthy.Length > 0 ? healthy : ["api"])
            {
                await host.App.ResourceNotifications.WaitForResourceHealthyAsync(resource, cancellationToken);
            }

            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>Builds, not started: for a test that watches the start itself.</summary>
    /// <param name="dataPath">A data folder the test prepared and deletes itself; a new temporary one without it.</param>
    /// <param name="configure">Changes to the builder before it is built (e.g. a logger).</param>
    public static async Task<LocalAppHost> BuildAsync(string name, string[] settings, CancellationToken cancellationToken,
        string? dataPath = null, Action<IDistributedApplicationTestingBuilder>? configure = null)
    {
        var ownsDataPath = dataPath is null;
        dataPath ??= NewDataPath(name);
        try
        {
            var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.MindJourney_AppHost>(
                [$"MindJourney:DataPath={dataPath}", $"MindJourney:ApiPort={Ports.Free()}", .. settings], cancellationToken);
            configure?.Invoke(builder);
            return new LocalAppHost(await builder.BuildAsync(cancellationToken), dataPath, ownsDataPath);
        }
        catch
        {
            if (ownsDataPath)
            {
                DeleteFolder(dataPath);
            }

            throw;
        }
    }

    /// <summary>A temporary folder's path, not yet made, named after <paramref name="name"/>.</summary>
    public static string NewDataPath(string name) =>
        Path.Combine(Path.GetTempPath(), $"mindjourney-apphost-{name}-{Guid.NewGuid():N}");

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
        var text = new StringBuilder();
        await foreach (var batch in App.Services.GetRequiredService<ResourceLoggerService>().GetAllAsync(Resource(name)))
        {
            foreach (var line in batch)
            {
                text.AppendLine(line.Content);
            }
        }

        return text.ToString();
    }

    /// <summary>The first line of the resource's log that holds <paramref name="text"/>, waiting for it.</summary>
    public async Task<string> FirstLogLineAsync(string name, string text, CancellationToken cancellationToken)
    {
        var logs = App.Services.GetRequiredService<ResourceLoggerService>();
        await foreach (var batch in logs.WatchAsync(Resource(name)).WithCancellation(cancellationToken))
        {
            foreach (var line in batch)
            {
                if (line.Content.Contains(text, StringComparison.Ordinal))
                {
                    return line.Content;
                }
            }
        }

        throw new InvalidOperationException($"The log of {name} ended without '{text}'.");
    }

    public IResource Resource(string name) =>
        App.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == name);

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        if (_ownsDataPath)
        {
            DeleteFolder(DataPath);
        }
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
