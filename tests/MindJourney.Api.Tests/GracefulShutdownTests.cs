using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>A replica stopped by SIGTERM (a deploy, a scale-in) under a steady stream of Plays, as two real API
/// processes on one database: it reports itself not ready and keeps serving during the drain, finishes what it
/// took, and exits in time; nothing that reached it fails, no number is burned, and the other replica serves on.
/// A Play the stopped replica refused at the door (connection refused or closed before an answer) is retried on
/// the other one with the same Idempotency-Key, as a balancer or a participant's retry would.</summary>
[Collection(PostgresCollection.Name)]
public sealed class GracefulShutdownTests(PostgresServer postgres, ITestOutputHelper output)
{
    private const int Workers = 6;
    private static readonly TimeSpan Drain = TimeSpan.FromSeconds(5); // long enough for a few readiness polls on a busy machine

    private sealed record Play(string Replica, HttpStatusCode Status, bool RetriedElsewhere, bool Replayed, int? Number, long FinishedAt);

    [Fact]
    public async Task A_replica_stopped_with_sigterm_under_load_finishes_its_plays_burns_no_number_and_the_other_serves_on()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var settings = new Dictionary<string, string>
        {
            ["Admin:ApiKey"] = AdminTests.AdminKey,
            ["MindJourney:RateLimit:SessionsPerWindow"] = "0",
            ["MindJourney:Shutdown:DrainSeconds"] = Drain.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        var database = await postgres.CreateDatabaseAsync();
        var started = await Task.WhenAll(
            ApiProcess.StartAsync(database, settings, timeout.Token), ApiProcess.StartAsync(database, settings, timeout.Token));
        await using var stopping = started[0];
        await using var staying = started[1];
        using var toStopping = new HttpClient { BaseAddress = stopping.Address, Timeout = TimeSpan.FromSeconds(30) };
        using var toStaying = new HttpClient { BaseAddress = staying.Address, Timeout = TimeSpan.FromSeconds(30) };
        var experiment = await toStaying.GetFromJsonAsync<JsonElement>("/api/experiment", timeout.Token);
        var body = new { experimentId = experiment.GetProperty("id").GetGuid() };

        var plays = new ConcurrentQueue<Play>();
        using var loadEnd = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
        var load = Enumerable.Range(0, Workers).Select(worker => Task.Run(async () =>
        {
            // Half the workers start on each replica and alternate, as a round-robin balancer would.
            for (var i = worker; !loadEnd.IsCancellationRequested; i++)
            {
                var key = Guid.NewGuid().ToString();
                var first = i % 2 == 0 ? toStopping : toStaying;
                try
                {
                    plays.Enqueue(await PlayAsync(first, first == toStopping ? "stopping" : "staying", key, body, retried: false));
                }
                catch (HttpRequestException) when (first == toStopping)
                {
                    plays.Enqueue(await PlayAsync(toStaying, "staying", key, body, retried: true));
                }
            }
        })).ToList();

        while (plays.Count(p => p.Replica == "stopping") < 20 || plays.Count(p => p.Replica == "staying") < 20)
        {
            await Task.Delay(100, timeout.Token);
        }

        var signalledAt = Stopwatch.GetTimestamp();
        stopping.Terminate();
        var reportedStopping = false;
        while (!stopping.HasExited && !reportedStopping)
        {
            try
            {
                using var health = await toStopping.GetAsync("/health", timeout.Token);
                reportedStopping = health.StatusCode == HttpStatusCode.ServiceUnavailable;
            }
            catch (HttpRequestException)
            {
                break; // no longer listening
            }

            await Task.Delay(100, timeout.Token);
        }

        await stopping.WaitForExitAsync(timeout.Token);
        var exitedAt = Stopwatch.GetTimestamp();
        while (plays.Count(p => p.Replica == "staying" && p.FinishedAt > exitedAt) < 20)
        {
            await Task.Delay(100, timeout.Token);
        }

        await loadEnd.CancelAsync();
        await Task.WhenAll(load);

        var all = plays.ToList();
        var console = stopping.Output;
        var log = console[^Math.Min(4000, console.Length)..]; // its last words, for a failure message
        output.WriteLine($"{all.Count} plays; on the stopping replica {all.Count(p => p.Replica == "stopping")}, " +
            $"{all.Count(p => p.Replica == "stopping" && p.FinishedAt > signalledAt)} of them after SIGTERM; " +
            $"{all.Count(p => p.RetriedElsewhere)} refused at its door and retried on the other; " +
            $"exit {Stopwatch.GetElapsedTime(signalledAt, exitedAt).TotalSeconds:0.0} s after SIGTERM (drain {Drain.TotalSeconds} s)");
        Assert.True(reportedStopping, $"the stopping replica never answered /health with 503 while it drained\n{log}");
        Assert.Equal(0, stopping.ExitCode);
        Assert.True(Stopwatch.GetElapsedTime(signalledAt, exitedAt) < TimeSpan.FromSeconds(30), "exited within the shutdown timeout");
        Assert.Contains(all, p => p.Replica == "stopping" && p.FinishedAt > signalledAt && p.Status == HttpStatusCode.Created);
        Assert.All(all, p => Assert.Equal(HttpStatusCode.Created, p.Status));
        // A Play retried elsewhere that replays means the stopped replica had numbered it and the answer was lost.
        Assert.DoesNotContain(all, p => p.RetriedElsewhere && p.Replayed);
        var numbers = all.Select(p => p.Number!.Value).ToList();
        Assert.Equal(numbers.Count, numbers.Distinct().Count());

        var audit = await AdminTests.AuditAsync(toStaying);
        Assert.Equal(numbers.Count, audit.GetProperty("sequenceLastValue").GetInt64());
        Assert.Equal(0, audit.GetProperty("gaps").GetArrayLength());
        Assert.Equal(0, audit.GetProperty("duplicates").GetArrayLength());
        Assert.Equal(0, audit.GetProperty("unnumberedSessions").GetInt64());
    }

    private static async Task<Play> PlayAsync(HttpClient client, string replica, string key, object body, bool retried)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/session") { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", key);
        using var response = await client.SendAsync(request);
        int? number = null;
        if (response.StatusCode == HttpStatusCode.Created)
        {
            var session = await response.Content.ReadFromJsonAsync<JsonElement>();
            number = session.GetProperty("visitorNumber").GetInt32();
        }

        var replayed = response.Headers.Contains("Idempotent-Replayed");
        return new Play(replica, response.StatusCode, retried, replayed, number, Stopwatch.GetTimestamp());
    }
}
