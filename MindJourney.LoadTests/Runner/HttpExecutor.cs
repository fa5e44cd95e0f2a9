using System.Buffers;
using System.Collections.Concurrent;
using MindJourney.LoadTests.Metrics;

namespace MindJourney.LoadTests.Runner;

/// <summary>One HTTP attempt: its timings, status, and the answer body in a pooled buffer (call <see cref="Release"/>).</summary>
internal struct Answer
{
    public long IntendedTicks;
    public long SentTicks;
    public long EndTicks;
    public int Status;
    public RequestOutcome Outcome;
    public long BytesSent;
    public byte[]? Buffer;
    public int Length;

    public readonly bool IsSuccess => Outcome == RequestOutcome.Ok;

    public readonly ReadOnlySpan<byte> Body => Buffer is null ? default : Buffer.AsSpan(0, Length);

    public void Release()
    {
        if (Buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(Buffer);
            Buffer = null;
        }
    }
}

/// <summary>Sends requests and records them into a step; the body is read into a pooled buffer, never a new array.</summary>
internal sealed class HttpExecutor(HttpClient http, MetricsCollector metrics, TimeSpan timeout)
{
    private const int MaxBody = 64 * 1024 * 1024;

    /// <summary>Attempts <c>--flaky</c> stopped waiting for that still run (each bounded by the timeout).</summary>
    private readonly ConcurrentQueue<Task> _abandoned = new();

    public HttpClient Http => http;

    /// <summary>
    /// Sends <paramref name="request"/> (and disposes it). <paramref name="intendedStartTicks"/> is the scheduled start
    /// in the open model (0 = measure from the send). Throws <see cref="OperationCanceledException"/> only when the
    /// run's hard stop fired; every other failure is an outcome. A <paramref name="cut"/> attempt never gets its
    /// answer: it ends as a transport error, as on a dropped connection (an abandoned one goes on unwatched).
    /// </summary>
    public async ValueTask<Answer> SendAsync(VirtualUser user, HttpRequestMessage request, long bytesSent, long intendedStartTicks,
        CancellationToken hardStop, NetworkCut cut = NetworkCut.None)
    {
        var answer = new Answer { BytesSent = bytesSent };
        var token = user.BeginRequest(timeout);
        answer.SentTicks = Ticks.Now;
        answer.IntendedTicks = intendedStartTicks == 0 ? answer.SentTicks : intendedStartTicks;
        var ownsRequest = cut != NetworkCut.Abandoned;
        try
        {
            if (cut == NetworkCut.Abandoned)
            {
                await AbandonAsync(request, token, hardStop).ConfigureAwait(false);
                answer.Outcome = RequestOutcome.TransportError;
            }
            else if (cut != NetworkCut.None)
            {
                await SendAndCutAsync(request, cut, token).ConfigureAwait(false);
                answer.Outcome = RequestOutcome.TransportError;
            }
            else
            {
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false);
                answer.Status = (int)response.StatusCode;
                (answer.Buffer, answer.Length) = await ReadBodyAsync(response.Content, token).ConfigureAwait(false);
                answer.Outcome = response.IsSuccessStatusCode ? RequestOutcome.Ok : RequestOutcome.HttpError;
            }
        }
        catch (OperationCanceledException) when (hardStop.IsCancellationRequested)
        {
            answer.Release();
            user.EndRequest();
            metrics.RecordAbort();
            throw;
        }
        catch (OperationCanceledException)
        {
            answer.Outcome = RequestOutcome.Timeout;
        }
        catch (Exception e) when (e is HttpRequestException or IOException or InvalidOperationException)
        {
            answer.Outcome = answer.Status == 0 ? RequestOutcome.TransportError : RequestOutcome.InvalidResponse;
        }
        finally
        {
            if (ownsRequest)
            {
                request.Dispose();
            }
        }

        answer.EndTicks = Ticks.Now;
        user.EndRequest();
        return answer;
    }

    /// <summary>Sends, then loses the answer: thrown away unread once it arrives, or cancelled mid-flight.</summary>
    private async Task SendAndCutAsync(HttpRequestMessage request, NetworkCut cut, CancellationToken token)
    {
        using var flight = CancellationTokenSource.CreateLinkedTokenSource(token);
        if (cut == NetworkCut.MidFlight)
        {
            flight.CancelAfter(FlakyNetwork.MidFlightDelay());
        }

        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, flight.Token)
                .ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            // cut mid-flight: the server may still be working on it
        }
    }

    /// <summary>Waits for every attempt <c>--flaky</c> abandoned, so what they store is stored before the checks read.</summary>
    public Task DrainAbandonedAsync() => Task.WhenAll(_abandoned);

    /// <summary>Stops waiting a few milliseconds after the send while the attempt goes on, as behind a proxy that gave
    /// up toward the client: the retry that follows meets it in flight. Its answer is thrown away when it comes.</summary>
    private async Task AbandonAsync(HttpRequestMessage request, CancellationToken token, CancellationToken hardStop)
    {
        var attempt = SendAndForgetAsync(request, hardStop);
        _abandoned.Enqueue(attempt);
        await Task.WhenAny(attempt, Task.Delay(FlakyNetwork.MidFlightDelay(), token)).ConfigureAwait(false);
        token.ThrowIfCancellationRequested();
    }

    private async Task SendAndForgetAsync(HttpRequestMessage request, CancellationToken hardStop)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(hardStop);
        bound.CancelAfter(timeout);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, bound.Token)
                .ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or HttpRequestException or IOException)
        {
            // nobody waits for this answer
        }
        finally
        {
            request.Dispose();
        }
    }

    /// <summary>Records the attempt; <paramref name="bodyValid"/> false turns a 2xx into "invalid_response".</summary>
    public static void Record(StepMetrics step, in Answer answer, bool bodyValid = true)
    {
        var outcome = answer.Outcome == RequestOutcome.Ok && !bodyValid ? RequestOutcome.InvalidResponse : answer.Outcome;
        step.Record(answer.IntendedTicks, answer.SentTicks, answer.EndTicks, answer.Status, outcome, answer.BytesSent, answer.Length);
    }

    /// <summary>Records the attempt as a refusal the run expects (<see cref="RequestOutcome.Refused"/>).</summary>
    public static void RecordRefused(StepMetrics step, in Answer answer) =>
        step.Record(answer.IntendedTicks, answer.SentTicks, answer.EndTicks, answer.Status, RequestOutcome.Refused, answer.BytesSent,
            answer.Length);

    private static async ValueTask<(byte[] Buffer, int Length)> ReadBodyAsync(HttpContent content, CancellationToken token)
    {
        var declared = content.Headers.ContentLength;
        var buffer = ArrayPool<byte>.Shared.Rent(declared is > 0 and < MaxBody ? (int)declared.Value + 1 : 4096);
        var length = 0;
        try
        {
            var stream = await content.ReadAsStreamAsync(token).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                while (true)
                {
                    if (length == buffer.Length)
                    {
                        if (buffer.Length >= MaxBody)
                        {
                            throw new InvalidOperationException("The answer body is larger than the harness reads.");
                        }

                        var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, length).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }

                    var n = await stream.ReadAsync(buffer.AsMemory(length), token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        return (buffer, length);
                    }

                    length += n;
                }
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }
}
