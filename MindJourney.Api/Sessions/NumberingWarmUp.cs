using System.Diagnostics;
using System.Net;
using System.Runtime;
using System.Text;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using MindJourney.Api.Data;
using MindJourney.Api.Infrastructure;
using Npgsql;
using OpenTelemetry;

namespace MindJourney.Api.Sessions;

/// <summary>
/// Runs the Play path before the first participant does, and holds /health back (<see cref="WarmUpGate"/>)
/// until it is done. A fresh process meets its first load with the code of every request still to compile (each
/// method once at tier 0, the hot ones again at tier 1 in the background) and with pooled connections still to open,
/// each a new PostgreSQL backend whose numbering statements are still to be prepared and planned: on a small machine
/// that cost the first seconds of an open 1,000 Plays/s a p99 of 100–200 ms (docs/BENCHMARKS.md).
/// The warm-up presses Play, from several callers at once, for an experiment that no one has: new visitors through
/// the API's own HTTP server (Kestrel, the middleware, JSON, the batch and the single statement; the trace in
/// docs/BENCHMARKS.md shows the HTTP stack is most of what a first load compiles), returning users straight through
/// <see cref="VisitorNumberAssigner"/>, every one with an Idempotency-Key. Every numbering statement matches no
/// experiment, so it inserts nothing and never reaches nextval; the API answers 404. Its requests are told apart
/// (<see cref="WarmUpRequests"/>): no client's rate-limit window, log line or trace is spent on them. A warm-up
/// draws no visitor number (nextval is not transactional: a rolled-back draw would still burn one, so nothing is
/// drawn at all). It
/// goes on, round after round, until a round compiles almost no new code, and gives up quietly at its deadline or
/// when the database cannot be reached: the API then reports its real health, warm or not.
/// </summary>
public sealed partial class NumberingWarmUp(
    VisitorNumberAssigner assigner,
    WarmUpRequests requests,
    IServer server,
    NpgsqlDataSource dataSource,
    IOptions<WarmUpOptions> options,
    IHostApplicationLifetime lifetime,
    ILogger<NumberingWarmUp> logger) : BackgroundService
{
    // Each round, every caller starts this many sessions one after another.
    private const int StartsPerCaller = 8;

    // At least this many rounds: the first compiles everything once, the next ones let hot methods move up a tier.
    private const int MinRounds = 3;

    // A round that compiles fewer methods than this finds the code warm.
    private const int QuietRound = 16;

    // Longer than the runtime's call-counting delay (100 ms): the hot methods of a round are recompiled before the next.
    private static readonly TimeSpan SettleDelay = TimeSpan.FromMilliseconds(150);

    // Connections warmed at once, at most: a backend per caller, and a batch numbers up to this many together.
    private const int MaxCallers = 8;

    private readonly TaskCompletionSource<WarmUpResult> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>How the warm-up ended; null while it runs.</summary>
    public WarmUpResult? Result => _done.Task.IsCompleted ? _done.Task.Result : null;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            if (!options.Value.Enabled)
            {
                _done.TrySetResult(new WarmUpResult(false, 0, TimeSpan.Zero, "The warm-up is off (MindJourney:WarmUp:Enabled)."));
                return;
            }

            // Once the server listens: the migrations have run, and /health tells a prober that it is still warming.
            await WhenStartedAsync(stoppingToken);
            _done.TrySetResult(await WarmAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            _done.TrySetResult(new WarmUpResult(false, 0, TimeSpan.Zero, "The API stopped before the warm-up ended."));
        }
        catch (Exception ex)
        {
            // Whatever went wrong, the API serves: cold, but serving.
            LogFailed(logger, ex.Message, ex);
            _done.TrySetResult(new WarmUpResult(false, 0, TimeSpan.Zero, $"The warm-up failed: {ex.Message}"));
        }
        finally
        {
            requests.End();
        }
    }

    private async Task WhenStartedAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        {
            await started.Task.WaitAsync(stoppingToken);
        }
    }

    private async Task<WarmUpResult> WarmAsync(CancellationToken stoppingToken)
    {
        var timeout = TimeSpan.FromSeconds(options.Value.TimeoutSeconds);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        deadline.CancelAfter(timeout);
        var started = Stopwatch.GetTimestamp();
        var starts = 0;
        // A statement already sent runs to its end, and opening a connection to a database that does not answer
        // waits for Npgsql's own timeout: /health is released at the deadline all the same.
        await using var released = deadline.Token.Register(() =>
        {
            if (!stoppingToken.IsCancellationRequested)
            {
                LogTimedOut(logger, options.Value.TimeoutSeconds, starts);
                _done.TrySetResult(new WarmUpResult(false, starts, Stopwatch.GetElapsedTime(started),
                    $"The warm-up did not finish within {options.Value.TimeoutSeconds} s (MindJourney:WarmUp:TimeoutSeconds)."));
            }
        });
        // Its spans and metrics would describe no participant.
        using var quiet = SuppressInstrumentationScope.Begin();

        using var http = LoopbackAddress() is { } address
            ? new HttpClient(new SocketsHttpHandler { UseProxy = false, UseCookies = false }) { BaseAddress = address }
            : null;
        var callers = Math.Clamp(new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).MaxPoolSize, 1, MaxCallers);
        var experimentId = Guid.NewGuid(); // no experiment has it
        var compiledBefore = JitInfo.GetCompiledMethodCount();
        var rounds = 0;
        try
        {
            while (true)
            {
                var compiled = JitInfo.GetCompiledMethodCount();
                await Task.WhenAll(Enumerable.Range(0, callers).Select(caller => CallAsync(http, caller, experimentId, deadline.Token)));
                starts += callers * StartsPerCaller;
                rounds++;
                await Task.Delay(SettleDelay, deadline.Token);
                if (rounds >= MinRounds && JitInfo.GetCompiledMethodCount() - compiled < QuietRound)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
        {
            return _done.Task.Result; // set when the deadline passed
        }
        catch (Exception ex) when (ex is DatabaseUnavailableException or NpgsqlException)
        {
            LogDatabaseUnavailable(logger, ex.InnerException?.Message ?? ex.Message);
            return new WarmUpResult(false, starts, Stopwatch.GetElapsedTime(started),
                "The warm-up could not reach the database; the API serves cold.");
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        LogWarm(logger, elapsed.TotalMilliseconds, starts, callers, rounds, JitInfo.GetCompiledMethodCount() - compiledBefore);
        return new WarmUpResult(true, starts, elapsed, null);
    }

    private async Task CallAsync(HttpClient? http, int caller, Guid experimentId, CancellationToken cancellationToken)
    {
        for (var i = 0; i < StartsPerCaller; i++)
        {
            var key = Guid.NewGuid().ToString("N");
            // A returning user's Play needs the proof of a person the warm-up does not have: its statement is run
            // straight, as is every Play when the server has no plain-HTTP address to call.
            Guid? userId = (caller + i) % 4 == 3 ? Guid.NewGuid() : null;
            if (http is null || userId is not null)
            {
                var result = await assigner.StartSessionAsync(experimentId, userId, 1, null, null, key, SessionModes.Live,
                    cancellationToken);
                Expect(result.Error == StartSessionError.ExperimentNotFound, experimentId, result.Error.ToString());
                continue;
            }

            using var request = new HttpRequestMessage(HttpMethod.Post, "api/session")
            {
                Content = new StringContent($$"""{"experimentId":"{{experimentId}}"}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Add(SessionsApi.IdempotencyKeyHeader, key);
            request.Headers.Add(WarmUpRequests.HeaderName, requests.Value);
            using var response = await http.SendAsync(request, cancellationToken);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                // The API's answer when the database cannot be reached (ApiExceptionHandler).
                throw new DatabaseUnavailableException(new HttpRequestException(response.ReasonPhrase, null, response.StatusCode));
            }

            Expect(response.StatusCode == HttpStatusCode.NotFound, experimentId, $"HTTP {(int)response.StatusCode}");
        }
    }

    // Only an experiment with this random id could answer otherwise; stop rather than start more sessions in it.
    private static void Expect(bool notFound, Guid experimentId, string outcome)
    {
        if (!notFound)
        {
            throw new InvalidOperationException($"A warm-up Play for experiment {experimentId} ended {outcome}.");
        }
    }

    /// <summary>Where this process's server answers plain HTTP, as a loopback URL (a wildcard host is reached on
    /// 127.0.0.1); null when it has no such address (HTTPS only, a Unix socket).</summary>
    private Uri? LoopbackAddress()
    {
        foreach (var address in server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [])
        {
            var binding = BindingAddress.Parse(address);
            if (binding.IsUnixPipe || !string.Equals(binding.Scheme, Uri.UriSchemeHttp, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var host = binding.Host is "*" or "+" or "0.0.0.0" or "[::]" or "localhost" ? "127.0.0.1" : binding.Host;
            return new Uri(FormattableString.Invariant($"http://{host}:{binding.Port}/"));
        }

        return null;
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Warm after {Milliseconds:0} ms: {Starts} numbering calls from {Callers} callers in {Rounds} rounds, "
            + "{Methods} methods compiled")]
    private static partial void LogWarm(ILogger logger, double milliseconds, int starts, int callers, int rounds, long methods);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "The warm-up did not finish within {Seconds} s ({Starts} numbering calls); the API reports its health as it is")]
    private static partial void LogTimedOut(ILogger logger, int seconds, int starts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The warm-up could not reach the database ({Reason}); the API serves cold")]
    private static partial void LogDatabaseUnavailable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "The warm-up failed ({Reason}); the API serves cold")]
    private static partial void LogFailed(ILogger logger, string reason, Exception exception);
}

/// <summary>How a warm-up ended: <c>Warm</c> when it ran to the end; otherwise <c>Reason</c> says why not.</summary>
public sealed record WarmUpResult(bool Warm, int Starts, TimeSpan Elapsed, string? Reason);
