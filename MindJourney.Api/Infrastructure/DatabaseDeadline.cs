using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using MindJourney.Api.Data;

namespace MindJourney.Api.Infrastructure;

/// <summary>
/// Bounds how long a participant's request waits for the database (<see cref="DatabaseOptions.RequestDeadlineSeconds"/>).
/// Npgsql's own timeouts do not bound a silent network: a timed-out command first sends a cancel request and waits,
/// with no timeout, for the server to close it (docs/RELIABILITY.md). When the deadline passes the request is answered
/// 503 (<see cref="DatabaseDeadlineException"/>) and the work goes on without it: the token it was given is cancelled,
/// which takes it out of a batcher's queue before its statement is sent, and a statement already sent runs to its end
/// (its result is dropped, as for a client that left). The client's retry with its Idempotency-Key finds what it stored.
/// </summary>
public sealed partial class DatabaseDeadline(IOptions<DatabaseOptions> options, ILogger<DatabaseDeadline> logger)
{
    private const string OutlivedKey = "mindjourney:database-work-outlives-request";

    public TimeSpan Limit { get; } = TimeSpan.FromSeconds(options.Value.RequestDeadlineSeconds);

    /// <summary>Runs <paramref name="work"/> with a token cancelled at the deadline (or when the client leaves), and
    /// waits for it at most until the deadline. Throws <see cref="DatabaseDeadlineException"/> when it passes, counted
    /// on <paramref name="passed"/> and logged once; a client that left gets its cancellation, as before.</summary>
    public async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> work, Counter<long> passed, string what,
        CancellationToken requestAborted)
    {
        // The work's token and the wait below have timers of their own: a callback on the work's token may block (a
        // cancelled Npgsql query sends a cancel request, which a silent network holds), and must not hold the wait.
        var workDeadline = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        workDeadline.CancelAfter(Limit);
        Task<T> task;
        try
        {
            task = work(workDeadline.Token);
        }
        catch
        {
            workDeadline.Dispose();
            throw;
        }

        if (task.IsCompleted)
        {
            workDeadline.Dispose();
            return await task; // answered at once (a cached value, say): nothing to wait for
        }

        // The work may outlive the request: it keeps its token until it ends, and its late failure is observed here.
        _ = task.ContinueWith(static (done, source) =>
        {
            _ = done.Exception;
            ((IDisposable)source!).Dispose();
        }, workDeadline, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        try
        {
            return await task.WaitAsync(Limit, requestAborted);
        }
        catch (Exception ex) when (ex is TimeoutException
            || (ex is OperationCanceledException && !requestAborted.IsCancellationRequested && workDeadline.IsCancellationRequested))
        {
            passed.Add(1);
            LogPassed(logger, what, Limit.TotalSeconds);
            throw new DatabaseDeadlineException(Limit);
        }
    }

    /// <summary><see cref="RunAsync{T}"/> for work that uses the request's own services (its DbContext, the
    /// HttpContext): when the request is answered before the work ends (the deadline, or a client that left), the
    /// request's services are disposed only once the work has ended, never under it. The answer is not held: they are
    /// disposed after the response is complete.</summary>
    public async Task<T> RunForRequestAsync<T>(HttpContext http, Func<CancellationToken, Task<T>> work, Counter<long> passed,
        string what)
    {
        Task<T>? started = null;
        try
        {
            return await RunAsync(token => started = work(token), passed, what, http.RequestAborted);
        }
        catch (Exception) when (started is { IsCompleted: false })
        {
            // Registered after the request's services were: disposals run last first, so this one is awaited before.
            http.Response.RegisterForDisposeAsync(new Outliving(started));
            http.Items[OutlivedKey] = true;
            throw;
        }
    }

    /// <summary>An HTTP/1 connection serves its next request only once the work left behind has ended: the answer
    /// closes it, so the client's next request takes another instead of waiting there (HTTP/2 streams do not wait).</summary>
    public static void CloseConnectionIfOutlived(HttpContext http)
    {
        if (http.Items.ContainsKey(OutlivedKey)
            && (HttpProtocol.IsHttp11(http.Request.Protocol) || HttpProtocol.IsHttp10(http.Request.Protocol)))
        {
            http.Response.Headers.Connection = "close";
        }
    }

    /// <summary>Waits for work the request left behind; its outcome was observed by <see cref="RunAsync{T}"/>.</summary>
    private sealed class Outliving(Task work) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await work.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    // Once per request, without a stack: the database being slow or cut off is not this request's error.
    [LoggerMessage(Level = LogLevel.Warning,
        Message = "{What} waited {Seconds} s for the database without an answer: answered 503, to be retried with its Idempotency-Key")]
    private static partial void LogPassed(ILogger logger, string what, double seconds);
}
