using System.Globalization;

namespace MindJourney.LoadTests.Metrics;

/// <summary>How one request ended.</summary>
public enum RequestOutcome
{
    Ok,

    /// <summary>An HTTP status other than the expected success (429 included).</summary>
    HttpError,

    /// <summary>The expected status, but a body the harness could not use.</summary>
    InvalidResponse,

    Timeout,

    TransportError,

    /// <summary>A refusal the run expects (a full study's 409 with <c>--expect-full</c>): neither ok nor failed.</summary>
    Refused,
}

/// <summary>Counters and latencies of one step (one kind of HTTP call). Thread-safe for writers; no allocation per record.</summary>
public sealed class StepMetrics
{
    private readonly long[] _statusCounts = new long[600];
    private long _ok;
    private long _failed;
    private long _refused;
    private long _bytesSent;
    private long _bytesReceived;
    private long _timeouts;
    private long _transportErrors;
    private long _invalidResponses;

    public StepMetrics(string name)
    {
        Name = name;
    }

    public string Name { get; }

    public LatencyRecorder Latency { get; } = new();

    public long Ok => Interlocked.Read(ref _ok);

    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Expected refusals (<see cref="RequestOutcome.Refused"/>), counted apart from ok and failed.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    public long Requests => Ok + Failed + Refused;

    public long BytesSent => Interlocked.Read(ref _bytesSent);

    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    /// <param name="intendedStartTicks">Scheduled start (open model, first request of an iteration) or the send time.</param>
    /// <param name="sentTicks">When the request was handed to HttpClient.</param>
    /// <param name="endTicks">When the whole answer had been read (or the attempt failed).</param>
    /// <param name="statusCode">The HTTP status, or 0 when there was no answer.</param>
    public void Record(long intendedStartTicks, long sentTicks, long endTicks, int statusCode, RequestOutcome outcome,
        long bytesSent, long bytesReceived)
    {
        Latency.Record(intendedStartTicks, sentTicks, endTicks);
        LoadTestTelemetry.Record(Name, outcome, intendedStartTicks, endTicks);
        if (outcome == RequestOutcome.Ok)
        {
            Interlocked.Increment(ref _ok);
        }
        else if (outcome == RequestOutcome.Refused)
        {
            Interlocked.Increment(ref _refused);
        }
        else
        {
            Interlocked.Increment(ref _failed);
        }

        if (statusCode is > 0 and < 600)
        {
            Interlocked.Increment(ref _statusCounts[statusCode]);
        }

        switch (outcome)
        {
            case RequestOutcome.Timeout:
                Interlocked.Increment(ref _timeouts);
                break;
            case RequestOutcome.TransportError:
                Interlocked.Increment(ref _transportErrors);
                break;
            case RequestOutcome.InvalidResponse:
                Interlocked.Increment(ref _invalidResponses);
                break;
        }

        if (bytesSent > 0)
        {
            Interlocked.Add(ref _bytesSent, bytesSent);
        }

        if (bytesReceived > 0)
        {
            Interlocked.Add(ref _bytesReceived, bytesReceived);
        }
    }

    public IReadOnlyDictionary<string, long> StatusCodes()
    {
        var result = new SortedDictionary<string, long>(StringComparer.Ordinal);
        for (var code = 1; code < _statusCounts.Length; code++)
        {
            var n = Interlocked.Read(ref _statusCounts[code]);
            if (n > 0)
            {
                result[code.ToString(CultureInfo.InvariantCulture)] = n;
            }
        }

        Add("timeout", _timeouts);
        Add("transport_error", _transportErrors);
        Add("invalid_response", _invalidResponses);
        return result;

        void Add(string key, long value)
        {
            if (value > 0)
            {
                result[key] = value;
            }
        }
    }

    /// <summary>The step's stats over <paramref name="seconds"/> of load (call after the final collect).</summary>
    public StepResult ToResult(double seconds, IReadOnlyList<double> percentiles, bool includeServiceTime) => new()
    {
        Name = Name,
        Requests = Requests,
        Ok = Ok,
        Failed = Failed,
        Refused = Refused,
        Rps = seconds > 0 ? Requests / seconds : 0,
        BytesSent = BytesSent,
        BytesReceived = BytesReceived,
        StatusCodes = StatusCodes(),
        Latency = Latency.LatencySummary(percentiles),
        ServiceTime = includeServiceTime ? Latency.ServiceTimeSummary(percentiles) : null,
    };
}
