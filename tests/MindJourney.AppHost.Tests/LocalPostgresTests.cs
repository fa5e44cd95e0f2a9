using System.Collections.Concurrent;
using System.Diagnostics;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MindJourney.AppHost.LocalPostgres;
using Npgsql;

namespace MindJourney.AppHost.Tests;

/// <summary>A PostgreSQL already running on the local data folder (a stray from a crash, or one started by hand):
/// the AppHost says on its console and in the dashboard which process holds the folder and what to do, instead of
/// waiting in silence.</summary>
public sealed class LocalPostgresTests
{
    [Fact]
    public async Task A_server_already_on_the_data_folder_is_named_with_its_process_id_within_10_seconds()
    {
        var dataPath = LocalAppHost.NewDataPath("held");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var bin = PostgresInstallation.FindBinDirectory() ?? throw new InvalidOperationException("No PostgreSQL server binaries.");
        var dataDirectory = Path.Combine(dataPath, "postgres");
        await PostgresInstallation.InitializeDataDirectoryAsync(bin, dataDirectory, "started-by-hand", timeout.Token);
        using var stray = await StartByHandAsync(bin, dataDirectory, timeout.Token);
        try
        {
            var console = new CapturingLoggerProvider();
            await using var host = await LocalAppHost.BuildAsync("held", LocalAppHost.Local, timeout.Token, dataPath,
                builder => builder.Services.AddLogging(logging => logging.AddProvider(console)));
            var app = host.App;
            var clock = Stopwatch.StartNew();
            await app.StartAsync(timeout.Token);

            using var within10s = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
            // A start slower than 10 s on a busy machine leaves no budget; the log replays its backlog, so one
            // second still finds a line written during the start and still fails when it never comes.
            within10s.CancelAfter(TimeSpan.FromSeconds(Math.Max(1, 10 - clock.Elapsed.TotalSeconds)));
            var dashboardLine = await host.FirstLogLineAsync("postgres", $"kill -INT {stray.Id}", within10s.Token);

            Assert.Contains($"process {stray.Id}", dashboardLine, StringComparison.Ordinal);
            var state = await app.ResourceNotifications.WaitForResourceAsync("postgres",
                e => KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text), timeout.Token);
            Assert.Equal(KnownResourceStates.FailedToStart, state.Snapshot.State?.Text);
            var logged = Assert.Single(console.Messages, m => m.Category == typeof(LocalPostgres.LocalPostgresResource).FullName).Message;
            Assert.Contains($"kill -INT {stray.Id}", logged, StringComparison.Ordinal);
            Assert.Contains(dataDirectory, logged, StringComparison.Ordinal);
            Assert.False(stray.HasExited, "the server started by hand is left alone");
        }
        finally
        {
            PostgresInstallation.RequestFastShutdown(stray.Id);
            await stray.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
            Directory.Delete(dataPath, recursive: true);
        }
    }

    /// <summary>A developer expects a service the AppHost runs to come back by itself, as a container with a restart
    /// policy would: the kill is explained, and the server is started again on its data.</summary>
    [Fact]
    public async Task A_local_server_killed_under_the_apphost_is_explained_and_started_again_with_its_data()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await using var host = await LocalAppHost.StartAsync("killed", LocalAppHost.Local, timeout.Token, "postgres");
        var serverId = int.Parse(File.ReadLines(Path.Combine(host.DataPath, "postgres", "postmaster.pid")).First(),
            System.Globalization.CultureInfo.InvariantCulture);

        await host.ExecuteAsync("CREATE TABLE kept (id int); INSERT INTO kept VALUES (42)", timeout.Token);
        using (var server = Process.GetProcessById(serverId))
        {
            server.Kill(); // SIGKILL: PostgreSQL writes nothing about it
        }

        using var within60s = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
        within60s.CancelAfter(TimeSpan.FromSeconds(60));
        var line = await host.FirstLogLineAsync("postgres", "PostgreSQL exited with code", within60s.Token);
        Assert.Contains("It was killed (kill -9, the out-of-memory killer) or crashed", line, StringComparison.Ordinal);
        Assert.Contains("Starting it again", line, StringComparison.Ordinal);

        // Started again: a new server process on the same data folder, taking connections, with the data.
        // (WaitForResourceHealthyAsync gives up on the exited state it first sees.)
        await host.App.ResourceNotifications.WaitForResourceAsync("postgres", e => e.Snapshot.State?.Text == KnownResourceStates.Running
            && e.Snapshot.HealthStatus == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, within60s.Token);
        NpgsqlConnection.ClearAllPools(); // their connections died with the server
        var again = int.Parse(File.ReadLines(Path.Combine(host.DataPath, "postgres", "postmaster.pid")).First(),
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.NotEqual(serverId, again);
        await host.ExecuteAsync("INSERT INTO kept SELECT id + 1 FROM kept", within60s.Token);
    }

    /// <summary>Stop from the dashboard means stopped: the server is not started again behind the developer's back.</summary>
    [Fact]
    public async Task A_local_server_stopped_from_the_dashboard_stays_stopped()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await using var host = await LocalAppHost.StartAsync("stopped", LocalAppHost.Local, timeout.Token, "postgres");
        var commands = host.App.Services.GetRequiredService<ResourceCommandService>();

        var stop = await commands.ExecuteCommandAsync("postgres", KnownResourceCommands.StopCommand, timeout.Token);

        Assert.True(stop.Success, stop.Message);
        await host.App.ResourceNotifications.WaitForResourceAsync("postgres",
            e => KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text), timeout.Token);
        await Task.Delay(TimeSpan.FromSeconds(5), timeout.Token); // a restart would have begun within a second
        var state = await host.App.ResourceNotifications.WaitForResourceAsync("postgres", _ => true, timeout.Token);
        Assert.Contains(state.Snapshot.State?.Text, KnownResourceStates.TerminalStates);
        Assert.DoesNotContain("Starting it again", await host.LogsAsync("postgres"), StringComparison.Ordinal);
    }

    private static async Task<Process> StartByHandAsync(string bin, string dataDirectory, CancellationToken cancellationToken)
    {
        var port = Ports.Free();
        var (fileName, arguments) = PostgresInstallation.AsServerUser(Path.Combine(bin, "postgres"),
            PostgresInstallation.ServerArguments(dataDirectory, port));
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true };
        arguments.ForEach(start.ArgumentList.Add);
        var process = Process.Start(start)!;
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var connectionString = $"Host=127.0.0.1;Port={port};Username=postgres;Password=started-by-hand;Pooling=false";
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(cancellationToken);
                return process;
            }
            catch (NpgsqlException) when (!process.HasExited)
            {
                await Task.Delay(100, cancellationToken);
            }
        }
    }

    /// <summary>What the AppHost writes to its console, as log messages.</summary>
    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        private readonly ConcurrentQueue<(string Category, string Message)> _messages = new();

        public IReadOnlyCollection<(string Category, string Message)> Messages => _messages;

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _messages);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<(string, string)> messages) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
                Func<TState, Exception?, string> formatter) => messages.Enqueue((category, formatter(state, exception)));
        }
    }
}
