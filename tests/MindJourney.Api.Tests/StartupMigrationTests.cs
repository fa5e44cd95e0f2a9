using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using MindJourney.Api.Data;
using MindJourney.Testing;
using Npgsql;

namespace MindJourney.Api.Tests;

/// <summary>An API that starts before its database (a fresh deployment, a PostgreSQL restart) waits for it and
/// applies the migrations once it answers, instead of failing its start.</summary>
[Collection(PostgresCollection.Name)]
public sealed class StartupMigrationTests(PostgresServer postgres)
{

    [Fact]
    public async Task The_api_waits_for_a_database_that_is_not_there_yet_then_migrates_and_serves()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var database = new NpgsqlConnectionStringBuilder(await postgres.CreateDatabaseAsync());
        // The database will appear on this port a few seconds after the API starts (a forwarder to the real server).
        var lateListener = new TcpListener(IPAddress.Loopback, 0);
        lateListener.Start();
        var port = ((IPEndPoint)lateListener.LocalEndpoint).Port;
        lateListener.Stop();
        database.Port = port;
        database.Host = "127.0.0.1";

        var forwarding = Task.Run(async () =>
        {
            await Task.Delay(TimeSpan.FromSeconds(3), timeout.Token);
            await ForwardAsync(port, postgres.Port, timeout.Token);
        });
        await using var api = new ApiHost(database.ConnectionString);
        using var client = new HttpClient { BaseAddress = api.ServerAddress }; // starting the host runs the migrations

        var answer = await client.PostAsJsonAsync("/api/session", new { experimentId = SeedData.DefaultExperimentId }, timeout.Token);

        Assert.Equal(HttpStatusCode.Created, answer.StatusCode);
        Assert.Equal(1, (await answer.Content.ReadFromJsonAsync<SessionBody>(timeout.Token))!.VisitorNumber);
        await timeout.CancelAsync();
        await Task.WhenAny(forwarding);
    }

    private sealed record SessionBody(int? VisitorNumber);

    /// <summary>Accepts connections on <paramref name="port"/> and pipes each to the real server, until cancelled.</summary>
    private static async Task ForwardAsync(int port, int serverPort, CancellationToken cancellationToken)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        try
        {
            while (true)
            {
                var client = await listener.AcceptTcpClientAsync(cancellationToken);
                _ = Task.Run(async () =>
                {
                    using (client)
                    using (var server = new TcpClient())
                    {
                        await server.ConnectAsync(IPAddress.Loopback, serverPort, cancellationToken);
                        await using var a = client.GetStream();
                        await using var b = server.GetStream();
                        await Task.WhenAny(a.CopyToAsync(b, cancellationToken), b.CopyToAsync(a, cancellationToken));
                    }
                }, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            listener.Stop();
        }
    }
}
