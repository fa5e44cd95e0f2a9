using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Sessions;
using MindJourney.Testing;
using Npgsql;

namespace MindJourney.Api.Tests;

/// <summary>The numbering warm-up: it runs the Play path before /health turns Healthy, draws no visitor number, and
/// neither its deadline nor a database that goes away keeps the API from serving or from telling its real health.
/// A warm-up is held in place by a lock on the experiments table (every numbering statement reads it).</summary>
[Collection(PostgresCollection.Name)]
public sealed class WarmUpTests(PostgresServer postgres)
{
    // A slow shared machine must not time a warm-up out where the test needs it to end warm.
    private static readonly Dictionary<string, string?> WarmUpOn = new()
    {
        ["MindJourney:WarmUp:Enabled"] = "true",
        ["MindJourney:WarmUp:TimeoutSeconds"] = "120",
    };

    [Fact]
    public async Task A_start_warms_the_play_path_without_drawing_a_visitor_number()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: WarmUpOn);
        var warm = await WarmUpEndedAsync(api.Hosts[0]);
        Assert.True(warm.Warm, warm.Reason);
        Assert.True(warm.Starts > 0);
        await WaitForHealthAsync(api.Hosts[0], api.Client, ready: true);
        Assert.Equal(0, await api.SequencePositionAsync());
        Assert.Equal(0, await api.ScalarAsync<long>(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM pilot_counter_sequence"));
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM users"));
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_sessions"));
        Assert.Equal(1, (await ApiCalls.StartSessionAsync(api)).VisitorNumber);

        // A later start, on a database that has numbered someone, leaves the sequence where it was too.
        await api.RestartHostAsync();
        Assert.True((await WarmUpEndedAsync(api.Hosts[0])).Warm);
        Assert.Equal(1, await api.SequencePositionAsync());
        Assert.Equal(2, (await ApiCalls.StartSessionAsync(api)).VisitorNumber);
    }

    [Fact]
    public async Task The_warm_up_spends_no_clients_rate_limit_window_and_logs_no_refusal()
    {
        var logs = new FakeLogCollector();
        await using var api = await TestApi.StartAsync(postgres, settings: WarmUpOn, productionLimits: true,
            services: services => services.AddSingleton<ILoggerProvider>(new FakeLoggerProvider(logs)));
        var warm = await WarmUpEndedAsync(api.Hosts[0]);
        Assert.True(warm.Warm, warm.Reason);
        var window = new RateLimitOptions().SessionsPerWindow;
        // More Plays than a client's window allows, from this machine's loopback address like the test's own.
        Assert.True(warm.Starts > window, $"{warm.Starts} warm-up Plays");
        Assert.DoesNotContain(logs.GetSnapshot(), line => line.Category == typeof(ClientErrorLogging).FullName);

        var experimentId = await api.ActiveExperimentIdAsync();
        for (var i = 0; i < window; i++)
        {
            await ApiCalls.StartSessionAsync(api.Client, new { experimentId }, $"after-warm-up-play-{i:D4}");
        }

        // The header is no way around the window for anyone else.
        using var guess = new HttpRequestMessage(HttpMethod.Post, "/api/session") { Content = JsonContent.Create(new { experimentId }) };
        guess.Headers.Add(WarmUpRequests.HeaderName, Convert.ToBase64String(new byte[32]));
        using var refused = await api.Client.SendAsync(guess);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal(window, await api.SequencePositionAsync());
    }

    [Fact]
    public async Task Health_is_unhealthy_while_the_warm_up_runs_and_healthy_once_it_has_ended()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: WarmUpOn);
        await WarmUpEndedAsync(api.Hosts[0]);

        await using (var holder = await LockExperimentsAsync(api.ConnectionString))
        {
            await api.RestartHostAsync();
            // Several looks over two seconds: past /health's one-second cache, still warming.
            for (var look = 0; look < 8; look++)
            {
                using var health = await api.Client.GetAsync("/health");
                Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
                Assert.Equal("Unhealthy", await health.Content.ReadAsStringAsync());
                Assert.Null(api.Hosts[0].Services.GetRequiredService<NumberingWarmUp>().Result);
                await Task.Delay(250);
            }
        }

        Assert.True((await WarmUpEndedAsync(api.Hosts[0])).Warm);
        await WaitForHealthAsync(api.Hosts[0], api.Client, ready: true);
        Assert.Equal(0, await api.SequencePositionAsync());
    }

    [Fact]
    public async Task Past_its_deadline_the_warm_up_lets_health_tell_the_api_as_it_is()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?>(WarmUpOn)
        {
            ["MindJourney:WarmUp:TimeoutSeconds"] = "2",
        });
        await WarmUpEndedAsync(api.Hosts[0]);

        await using (var holder = await LockExperimentsAsync(api.ConnectionString))
        {
            await api.RestartHostAsync();
            var ended = await WarmUpEndedAsync(api.Hosts[0]);
            Assert.False(ended.Warm);
            Assert.Equal("The warm-up did not finish within 2 s (MindJourney:WarmUp:TimeoutSeconds).", ended.Reason);
            // The statement it left waiting still waits: the API is healthy all the same.
            await WaitForHealthAsync(api.Hosts[0], api.Client, ready: true);
        }

        Assert.Equal(1, (await ApiCalls.StartSessionAsync(api)).VisitorNumber);
    }

    [Fact]
    public async Task A_database_gone_during_the_warm_up_neither_stops_the_api_nor_hides_its_health()
    {
        var database = await postgres.CreateDatabaseAsync();
        // The first start creates the tables; the second reaches the database through a link the test can cut.
        await using (var migrate = new ApiHost(database))
        {
            _ = migrate.ServerAddress;
        }

        await using var link = Link.Start(postgres.Port);
        var through = new NpgsqlConnectionStringBuilder(database) { Host = "127.0.0.1", Port = link.Port, Timeout = 3 };
        await using var holder = await LockExperimentsAsync(database);
        await using var api = new ApiHost(through.ConnectionString, WarmUpOn);
        using var client = new HttpClient { BaseAddress = api.ServerAddress };
        var warmUp = api.Services.GetRequiredService<NumberingWarmUp>();
        await WaitForHealthAsync(api, client, ready: false); // warming: its statements wait on the lock
        Assert.Null(warmUp.Result);

        link.Cut();
        var ended = await WarmUpEndedAsync(api);
        Assert.False(ended.Warm);
        Assert.Equal("The warm-up could not reach the database; the API serves cold.", ended.Reason);
        // Warm-up over, database unreachable: /health says so, as it would have without any warm-up.
        await WaitForHealthAsync(api, client, ready: false);
        using (var play = await client.PostAsync("/api/session", JsonContent.Create(new { experimentId = SeedExperiment })))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, play.StatusCode);
        }

        await holder.DisposeAsync();
        link.Resume();
        await WaitForHealthAsync(api, client, ready: true);
        using var started = await client.PostAsync("/api/session", JsonContent.Create(new { experimentId = SeedExperiment }));
        Assert.Equal(HttpStatusCode.Created, started.StatusCode);
        Assert.Equal(1, (await started.Content.ReadAsAsync<StartedSession>()).VisitorNumber);
    }

    private static Guid SeedExperiment => Data.SeedData.DefaultExperimentId;

    /// <summary>A transaction that holds the experiments table until disposed: every numbering statement waits.</summary>
    private static async Task<TableLock> LockExperimentsAsync(string connectionString)
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand("LOCK TABLE experiments IN ACCESS EXCLUSIVE MODE", connection, transaction);
        await command.ExecuteNonQueryAsync();
        return new TableLock(connection);
    }

    private sealed class TableLock(NpgsqlConnection connection) : IAsyncDisposable
    {
        // Closing the connection rolls its transaction back and lets the lock go; a second call does nothing.
        public ValueTask DisposeAsync() => connection.DisposeAsync();
    }

    private static async Task<WarmUpResult> WarmUpEndedAsync(ApiHost host)
    {
        var warmUp = host.Services.GetRequiredService<NumberingWarmUp>();
        var clock = Stopwatch.StartNew();
        while (warmUp.Result is null)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), "the warm-up did not end within 2 minutes");
            await Task.Delay(50);
        }

        return warmUp.Result;
    }

    /// <summary>/health answers its cached report for a second; wait out the cache, boundedly. Ready is 200: Healthy,
    /// or Degraded where a test runs without storage.</summary>
    private static async Task WaitForHealthAsync(ApiHost host, HttpClient client, bool ready)
    {
        for (var attempt = 0; attempt < 150; attempt++)
        {
            using var health = await client.GetAsync("/health");
            if ((health.StatusCode == HttpStatusCode.OK) == ready)
            {
                return;
            }

            await Task.Delay(100);
        }

        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Fail($"/health stayed {report.Status}: "
            + string.Join("; ", report.Entries.Select(e => $"{e.Key} {e.Value.Status} {e.Value.Description}")));
    }

    /// <summary>A TCP link to PostgreSQL that the test cuts (every connection through it closed, new ones refused)
    /// and restores on the same port.</summary>
    private sealed class Link : IAsyncDisposable
    {
        private readonly int _serverPort;
        private readonly List<TcpClient> _open = [];
        private TcpListener _listener;
        private CancellationTokenSource _running = new();

        private Link(int serverPort)
        {
            _serverPort = serverPort;
            _listener = new TcpListener(IPAddress.Loopback, 0);
        }

        public int Port { get; private set; }

        public static Link Start(int serverPort)
        {
            var link = new Link(serverPort);
            link.Listen();
            return link;
        }

        public void Cut()
        {
            _running.Cancel();
            _listener.Stop();
            lock (_open)
            {
                foreach (var client in _open)
                {
                    client.Dispose();
                }

                _open.Clear();
            }
        }

        public void Resume()
        {
            _running = new CancellationTokenSource();
            _listener = new TcpListener(IPAddress.Loopback, Port);
            Listen();
        }

        private void Listen()
        {
            _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            var (listener, token) = (_listener, _running.Token);
            _ = Task.Run(async () =>
            {
                while (!token.IsCancellationRequested)
                {
                    TcpClient client;
                    try
                    {
                        client = await listener.AcceptTcpClientAsync(token);
                    }
                    catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                    {
                        return;
                    }

                    _ = PipeAsync(client, token);
                }
            }, CancellationToken.None);
        }

        private async Task PipeAsync(TcpClient client, CancellationToken token)
        {
            var server = new TcpClient();
            lock (_open)
            {
                _open.Add(client);
                _open.Add(server);
            }

            try
            {
                await server.ConnectAsync(IPAddress.Loopback, _serverPort, token);
                var (a, b) = (client.GetStream(), server.GetStream());
                await Task.WhenAny(a.CopyToAsync(b, token), b.CopyToAsync(a, token));
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
            }
            finally
            {
                client.Dispose();
                server.Dispose();
            }
        }

        public ValueTask DisposeAsync()
        {
            Cut();
            return ValueTask.CompletedTask;
        }
    }
}
