using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MindJourney.LoadTests.Metrics;
using MindJourney.LoadTests.Runner;

namespace MindJourney.LoadTests.Tests;

/// <summary>What each kind of <c>--flaky</c> cut does to one attempt, against a server that holds every request at a
/// gate the test opens: the server gets the request, the harness never gets its answer.</summary>
public sealed class FlakyNetworkTests : IAsyncLifetime
{
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication _app = null!;
    private HttpClient _http = null!;
    private int _started;
    private int _finished;

    public async ValueTask InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        _app = builder.Build();
        // The work goes on whether or not the client is still there, as a handler that does not watch the connection.
        _app.MapPost("/answer", async () =>
        {
            Interlocked.Increment(ref _started);
            await _gate.Task;
            Interlocked.Increment(ref _finished);
            return Results.Json(new { id = Guid.NewGuid() }, statusCode: 201);
        });
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _http = new HttpClient { BaseAddress = new Uri(address) };
    }

    public async ValueTask DisposeAsync()
    {
        _gate.TrySetResult();
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task<Answer> SendAsync(HttpExecutor executor, NetworkCut cut)
    {
        using var user = new VirtualUser(1, CancellationToken.None);
        var request = new HttpRequestMessage(HttpMethod.Post, "/answer") { Content = new StringContent("{}") };
        return await executor.SendAsync(user, request, 2, 0, CancellationToken.None, cut);
    }

    private HttpExecutor NewExecutor() => new(_http, new MetricsCollector(["answer"]), TimeSpan.FromSeconds(30));

    private async Task StartedAsync(int n)
    {
        for (var i = 0; i < 300 && Volatile.Read(ref _started) < n; i++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(n, Volatile.Read(ref _started));
    }

    [Fact]
    public async Task An_attempt_cut_after_the_answer_is_done_by_the_server_and_its_201_thrown_away()
    {
        var sending = SendAsync(NewExecutor(), NetworkCut.AfterAnswer);
        await StartedAsync(1);
        Assert.False(sending.IsCompleted); // it waits for the answer, then loses it
        _gate.SetResult();

        var answer = await sending;
        Assert.Equal(1, _finished);
        Assert.Equal(RequestOutcome.TransportError, answer.Outcome);
        Assert.Equal(0, answer.Status);
        Assert.Equal(0, answer.Length);
    }

    [Fact]
    public async Task An_attempt_cut_mid_flight_comes_back_before_the_server_has_answered()
    {
        var answer = await SendAsync(NewExecutor(), NetworkCut.MidFlight);

        Assert.Equal(RequestOutcome.TransportError, answer.Outcome);
        Assert.Equal(0, answer.Status);
        Assert.Equal(0, _finished);
    }

    [Fact]
    public async Task An_abandoned_attempt_goes_on_beside_its_retry_and_the_run_waits_for_it()
    {
        var executor = NewExecutor();
        var answer = await SendAsync(executor, NetworkCut.Abandoned);
        Assert.Equal(RequestOutcome.TransportError, answer.Outcome);
        await StartedAsync(1);

        // the retry reaches the server while the first attempt is still held there
        var retry = SendAsync(executor, NetworkCut.None);
        await StartedAsync(2);
        Assert.Equal(0, _finished);
        var drained = executor.DrainAbandonedAsync();
        Assert.False(drained.IsCompleted);

        _gate.SetResult();
        Assert.Equal(RequestOutcome.Ok, (await retry).Outcome);
        await drained;
        Assert.Equal(2, _finished);
    }

    [Fact]
    public void The_share_of_cut_attempts_follows_the_percentage_half_of_them_after_the_answer()
    {
        Assert.All(Enumerable.Range(0, 1000), _ => Assert.Equal(NetworkCut.None, new FlakyNetwork(0).Next()));
        var all = Enumerable.Range(0, 4000).Select(_ => new FlakyNetwork(100).Next()).ToList();
        Assert.DoesNotContain(NetworkCut.None, all);
        Assert.InRange(all.Count(c => c == NetworkCut.AfterAnswer), 1700, 2300);
        Assert.InRange(all.Count(c => c == NetworkCut.MidFlight), 800, 1200);
        Assert.InRange(all.Count(c => c == NetworkCut.Abandoned), 800, 1200);
        var fifth = Enumerable.Range(0, 10_000).Count(_ => new FlakyNetwork(20).Next() != NetworkCut.None);
        Assert.InRange(fifth, 1700, 2300);
    }
}
