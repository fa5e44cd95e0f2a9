using HdrHistogram;

namespace MindJourney.LoadTests.Metrics;

/// <summary>
/// All steps of a run plus run-wide counters, and the per-second series: each <see cref="Sample"/> drains every step's
/// interval histogram into the run totals and into that second's merged histogram (p50/p99 per second).
/// </summary>
public sealed class MetricsCollector
{
    private readonly object _sampleGate = new();
    private readonly StepMetrics[] _steps;
    private readonly List<SecondSample> _series = [];
    private readonly LongHistogram _second = LatencyRecorder.NewHistogram();
    private readonly LongHistogram _all = LatencyRecorder.NewHistogram();
    private long _startTicks;
    private long _lastSampleTicks;
    private long _lastOk;
    private long _lastFailed;
    private long _lastRefused;
    private long _lastDropped;
    private long _dropped;
    private long _inFlight;
    private long _aborted;
    private long _iterationsOk;
    private long _iterationsFailed;
    private long _sessionsCreated;
    private long _maxScheduleLagTicks;
    private double _lastP99Ms;

    public MetricsCollector(IEnumerable<string> stepNames)
    {
        _steps = stepNames.Select(n => new StepMetrics(n)).ToArray();
        _startTicks = _lastSampleTicks = Ticks.Now;
    }

    public IReadOnlyList<StepMetrics> Steps => _steps;

    public IReadOnlyList<SecondSample> Series
    {
        get
        {
            lock (_sampleGate)
            {
                return _series.ToArray();
            }
        }
    }

    public long Dropped => Interlocked.Read(ref _dropped);

    public long InFlight => Interlocked.Read(ref _inFlight);

    public long Aborted => Interlocked.Read(ref _aborted);

    public long IterationsOk => Interlocked.Read(ref _iterationsOk);

    public long IterationsFailed => Interlocked.Read(ref _iterationsFailed);

    public double MaxScheduleLagMs => Ticks.ToMicroseconds(Interlocked.Read(ref _maxScheduleLagTicks)) / 1000.0;

    public StepMetrics Step(string name) =>
        Array.Find(_steps, s => s.Name == name) ?? throw new ArgumentException($"Unknown step '{name}'.", nameof(name));

    /// <summary>Marks the start of the load phase (the series' zero).</summary>
    public void Start(long startTicks)
    {
        lock (_sampleGate)
        {
            _startTicks = _lastSampleTicks = startTicks;
        }
    }

    public void RecordDrop() => Interlocked.Increment(ref _dropped);

    public void RecordAbort() => Interlocked.Increment(ref _aborted);

    public void IterationStarted() => Interlocked.Increment(ref _inFlight);

    public void IterationFinished(bool ok)
    {
        Interlocked.Decrement(ref _inFlight);
        if (ok)
        {
            Interlocked.Increment(ref _iterationsOk);
        }
        else
        {
            Interlocked.Increment(ref _iterationsFailed);
        }
    }

    public void IterationAborted() => Interlocked.Decrement(ref _inFlight);

    public void SessionCreated() => Interlocked.Increment(ref _sessionsCreated);

    public void ScheduleLag(long lagTicks)
    {
        long seen;
        while (lagTicks > (seen = Interlocked.Read(ref _maxScheduleLagTicks)) &&
               Interlocked.CompareExchange(ref _maxScheduleLagTicks, lagTicks, seen) != seen)
        {
        }
    }

    /// <summary>Closes the current interval: one <see cref="SecondSample"/>, and the live view.</summary>
    public LiveStats Sample(long nowTicks)
    {
        lock (_sampleGate)
        {
            _second.Reset();
            foreach (var step in _steps)
            {
                var interval = step.Latency.Collect();
                _second.Add(interval);
                _all.Add(interval);
            }

            long ok = 0, failed = 0, refused = 0;
            foreach (var step in _steps)
            {
                ok += step.Ok;
                failed += step.Failed;
                refused += step.Refused;
            }

            var dropped = Dropped;
            var intervalSeconds = Math.Max(Ticks.ToSeconds(nowTicks - _lastSampleTicks), 1e-3);
            var requests = ok - _lastOk + (failed - _lastFailed) + (refused - _lastRefused);
            var count = _second.TotalCount;
            _lastP99Ms = count == 0 ? 0 : LatencyRecorder.ToMs(_second.GetValueAtPercentile(99));
            var sample = new SecondSample
            {
                ElapsedSeconds = Math.Round(Ticks.ToSeconds(nowTicks - _startTicks), 3),
                Requests = requests,
                Ok = ok - _lastOk,
                Failed = failed - _lastFailed,
                Refused = refused - _lastRefused,
                Dropped = dropped - _lastDropped,
                Rps = requests / intervalSeconds,
                P50Ms = count == 0 ? 0 : LatencyRecorder.ToMs(_second.GetValueAtPercentile(50)),
                P99Ms = _lastP99Ms,
                MaxMs = count == 0 ? 0 : LatencyRecorder.ToMs(_second.GetMaxValue()),
                InFlight = InFlight,
            };
            _series.Add(sample);
            _lastOk = ok;
            _lastFailed = failed;
            _lastRefused = refused;
            _lastDropped = dropped;
            _lastSampleTicks = nowTicks;
            return new LiveStats(
                TimeSpan.FromSeconds(Ticks.ToSeconds(nowTicks - _startTicks)),
                ok + failed + refused,
                sample.Rps,
                failed,
                dropped,
                _lastP99Ms,
                sample.InFlight,
                Interlocked.Read(ref _sessionsCreated));
        }
    }

    /// <summary>All requests of all steps (call after the final <see cref="Sample"/>).</summary>
    public LatencySummary AllRequests(IReadOnlyList<double> percentiles)
    {
        lock (_sampleGate)
        {
            var used = _steps.Where(s => s.Latency.Count > 0).ToList();
            return used.Count == 0
                ? LatencySummary.Empty(percentiles)
                : LatencyRecorder.Summarise(_all, percentiles, used.Min(s => s.Latency.MinMicros), used.Max(s => s.Latency.MaxMicros));
        }
    }
}
