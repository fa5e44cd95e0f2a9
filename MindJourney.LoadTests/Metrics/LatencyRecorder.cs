using HdrHistogram;

namespace MindJourney.LoadTests.Metrics;

/// <summary>
/// Records latencies in microseconds into HdrHistogram (3 significant digits, 1 µs .. 1 h) from many threads at once
/// without locks (HdrHistogram <see cref="Recorder"/> over concurrent histograms), and keeps two views of each request:
/// <list type="bullet">
/// <item><b>latency</b>: end − intended start. In the open model the intended start of an iteration's first request is
/// its <i>scheduled</i> arrival time, so time the request spent waiting because the generator (or anything before the
/// send) was held up is counted: the coordinated-omission correction.</item>
/// <item><b>service time</b>: end − actual send, what a closed-loop tool would report.</item>
/// </list>
/// Writers call <see cref="Record"/>; one reader (the per-second sampler) calls <see cref="Collect"/>, which moves the
/// interval into the run totals and returns it.
/// </summary>
public sealed class LatencyRecorder
{
    public const long LowestMicros = 1;
    public const long HighestMicros = 3_600_000_000; // one hour
    public const int SignificantDigits = 3;

    private readonly Track _latency = new();
    private readonly Track _service = new();

    /// <summary>Records one request from Stopwatch timestamps.</summary>
    public void Record(long intendedStartTicks, long sentTicks, long endTicks)
    {
        RecordMicros(
            Ticks.ToMicroseconds(endTicks - Math.Min(intendedStartTicks, sentTicks)),
            Ticks.ToMicroseconds(endTicks - sentTicks));
    }

    /// <summary>Records one request given in microseconds.</summary>
    public void RecordMicros(long latencyMicros, long serviceMicros)
    {
        _latency.Record(latencyMicros);
        _service.Record(serviceMicros);
    }

    /// <summary>
    /// Moves everything recorded since the last call into the totals and returns that interval's latency histogram.
    /// The returned histogram is valid until the next call. Single reader only.
    /// </summary>
    public HistogramBase Collect()
    {
        _service.Collect();
        return _latency.Collect();
    }

    public long Count => _latency.Total.TotalCount;

    /// <summary>Summary of the corrected latency over the whole run (as of the last <see cref="Collect"/>).</summary>
    public LatencySummary LatencySummary(IReadOnlyList<double> percentiles) => _latency.Summary(percentiles);

    /// <summary>Summary of send-to-answer time over the whole run (as of the last <see cref="Collect"/>).</summary>
    public LatencySummary ServiceTimeSummary(IReadOnlyList<double> percentiles) => _service.Summary(percentiles);

    internal long MinMicros => _latency.Min;

    internal long MaxMicros => _latency.Max;

    /// <summary>A histogram fit to hold everything a recorder records (for merging intervals).</summary>
    public static LongHistogram NewHistogram() => new(LowestMicros, HighestMicros, SignificantDigits);

    /// <summary>Summary of a histogram, with exact min/max when known.</summary>
    public static LatencySummary Summarise(HistogramBase histogram, IReadOnlyList<double> percentiles,
        long? exactMinMicros = null, long? exactMaxMicros = null)
    {
        ArgumentNullException.ThrowIfNull(histogram);
        ArgumentNullException.ThrowIfNull(percentiles);
        var count = histogram.TotalCount;
        if (count == 0)
        {
            return LoadTests.LatencySummary.Empty(percentiles);
        }

        var max = exactMaxMicros ?? histogram.GetMaxValue();
        var min = exactMinMicros ?? FirstRecordedValue(histogram);
        return new LatencySummary
        {
            Count = count,
            MinMs = ToMs(min),
            MaxMs = ToMs(max),
            MeanMs = histogram.GetMean() / 1000.0,
            StdDevMs = histogram.GetStdDeviation() / 1000.0,
            Percentiles = percentiles
                .Select(p => new PercentileValue(p, ToMs(Math.Clamp(histogram.GetValueAtPercentile(p), min, max))))
                .ToArray(),
        };
    }

    public static double ToMs(long micros) => micros / 1000.0;

    private static long FirstRecordedValue(HistogramBase h)
    {
        foreach (var v in h.RecordedValues())
        {
            return h.LowestEquivalentValue(v.ValueIteratedTo);
        }

        return 0;
    }

    private sealed class Track
    {
        private readonly Recorder _recorder = new(
            LowestMicros,
            HighestMicros,
            SignificantDigits,
            (id, low, high, digits) => new LongConcurrentHistogram(id, low, high, digits));

        private HistogramBase? _recycle;
        private long _min = long.MaxValue;
        private long _max;

        public LongHistogram Total { get; } = NewHistogram();

        public long Min => Interlocked.Read(ref _min) == long.MaxValue ? 0 : Interlocked.Read(ref _min);

        public long Max => Interlocked.Read(ref _max);

        public void Record(long micros)
        {
            var v = Math.Clamp(micros, LowestMicros, HighestMicros);
            _recorder.RecordValue(v);
            long seen;
            while (v < (seen = Interlocked.Read(ref _min)) && Interlocked.CompareExchange(ref _min, v, seen) != seen)
            {
            }

            while (v > (seen = Interlocked.Read(ref _max)) && Interlocked.CompareExchange(ref _max, v, seen) != seen)
            {
            }
        }

        public HistogramBase Collect()
        {
            var interval = _recycle is null ? _recorder.GetIntervalHistogram() : _recorder.GetIntervalHistogram(_recycle);
            Total.Add(interval);
            _recycle = interval;
            return interval;
        }

        public LatencySummary Summary(IReadOnlyList<double> percentiles) =>
            Summarise(Total, percentiles, Total.TotalCount == 0 ? null : Min, Total.TotalCount == 0 ? null : Max);
    }
}
