using MindJourney.LoadTests.Metrics;
using MindJourney.LoadTests.Runner;

namespace MindJourney.LoadTests.Tests;

public sealed class LatencyTests
{
    private static readonly double[] Pcts = [50, 75, 90, 99, 99.9];

    [Fact]
    public void Percentiles_come_from_HdrHistogram_with_exact_min_and_max()
    {
        var rec = new LatencyRecorder();
        for (var ms = 1; ms <= 1000; ms++)
        {
            rec.RecordMicros(ms * 1000L, ms * 1000L);
        }

        rec.Collect();
        var s = rec.LatencySummary(Pcts);
        Assert.Equal(1000, s.Count);
        Assert.Equal(1.0, s.MinMs);
        Assert.Equal(1000.0, s.MaxMs);
        Assert.InRange(s.MeanMs, 500, 501); // within HdrHistogram's 3 significant digits
        Assert.InRange(s.At(50)!.Value, 499.5, 501);
        Assert.InRange(s.At(99)!.Value, 989, 991);
        Assert.InRange(s.At(99.9)!.Value, 998.5, 1000);
        Assert.InRange(s.StdDevMs, 287, 290);
    }

    /// <summary>
    /// A sender with one connection sends the arrivals of a 100/s timetable in order; the server stalls once for a
    /// second. Every arrival scheduled during the stall waits for it, but only one request *took* long. Measured from
    /// the send (what a closed-loop tool reports) the stall is one outlier; measured from the scheduled start it is
    /// what a hundred visitors lived through.
    /// </summary>
    [Fact]
    public void Latency_from_the_scheduled_start_reports_the_time_a_stall_made_arrivals_wait()
    {
        var rec = new LatencyRecorder();
        const long intervalUs = 10_000; // 100 arrivals/s
        long previousEnd = 0;
        for (var k = 0; k < 300; k++)
        {
            var scheduled = k * intervalUs;
            var sent = Math.Max(scheduled, previousEnd);
            var service = k == 50 ? 1_000_000 : 1_000; // one 1 s stall, otherwise 1 ms
            var end = sent + service;
            rec.Record(Ticks.FromMicroseconds(scheduled), Ticks.FromMicroseconds(sent), Ticks.FromMicroseconds(end));
            previousEnd = end;
        }

        rec.Collect();
        var corrected = rec.LatencySummary(Pcts);
        var serviceTime = rec.ServiceTimeSummary(Pcts);

        // closed-loop view: the stall hides in the tail
        Assert.InRange(serviceTime.At(90)!.Value, 0.9, 1.1);
        Assert.InRange(serviceTime.At(99)!.Value, 0.9, 1.1);
        Assert.Equal(1000, serviceTime.MaxMs, 0);

        // scheduled-start view: ~100 arrivals waited behind the stall, up to ~1 s
        Assert.True(corrected.At(75)!.Value > 100, $"p75 {corrected.At(75)} ms");
        Assert.True(corrected.At(90)!.Value > 500, $"p90 {corrected.At(90)} ms");
        Assert.InRange(corrected.At(99)!.Value, 900, 1001);
        Assert.True(corrected.MeanMs > 100 * serviceTime.MeanMs / 10, "the mean moves too");
    }

    [Fact]
    public void Early_sends_are_measured_from_the_send()
    {
        var rec = new LatencyRecorder();
        rec.Record(Ticks.FromMicroseconds(5_000), Ticks.FromMicroseconds(4_000), Ticks.FromMicroseconds(6_000));
        rec.Collect();
        Assert.Equal(2.0, rec.LatencySummary([50]).MaxMs);
    }

    [Fact]
    public void Per_second_samples_merge_steps_and_count_outcomes()
    {
        var m = new MetricsCollector(["a", "b"]);
        var t0 = Ticks.Now;
        m.Start(t0);
        var a = m.Step("a");
        var b = m.Step("b");
        for (var i = 0; i < 90; i++)
        {
            a.Record(t0, t0, t0 + Ticks.FromMicroseconds(2_000), 201, RequestOutcome.Ok, 10, 100);
        }

        for (var i = 0; i < 10; i++)
        {
            b.Record(t0, t0, t0 + Ticks.FromMicroseconds(50_000), 429, RequestOutcome.HttpError, 10, 20);
        }

        for (var i = 0; i < 5; i++)
        {
            b.Record(t0, t0, t0 + Ticks.FromMicroseconds(2_000), 409, RequestOutcome.Refused, 10, 20);
        }

        var live = m.Sample(t0 + Ticks.FromSeconds(1));
        var second = Assert.Single(m.Series);
        Assert.Equal(105, second.Requests);
        Assert.Equal(90, second.Ok);
        Assert.Equal(10, second.Failed);
        Assert.Equal(5, second.Refused); // a full study's refusals are in the series, apart from failures
        Assert.Equal(105, second.Rps, 3);
        Assert.InRange(second.P50Ms, 1.99, 2.01);
        Assert.InRange(second.P99Ms, 49.9, 50.1);
        Assert.Equal(105, live.Requests);
        Assert.Equal(10, live.Failed);

        var next = m.Sample(t0 + Ticks.FromSeconds(2));
        Assert.Equal(105, next.Requests); // live view: cumulative
        Assert.Equal(2, m.Series.Count);
        Assert.Equal(0, m.Series[1].Requests); // series: per interval

        var stepB = b.ToResult(2, [50], includeServiceTime: false);
        Assert.Equal(10, stepB.StatusCodes["429"]);
        Assert.Equal(10, stepB.Failed);
        Assert.Equal(5, stepB.Refused);
        Assert.Equal(300, stepB.BytesReceived);
        Assert.Equal(105, m.AllRequests([50]).Count);
    }

    [Fact]
    public void Arrival_schedule_without_ramp_is_even() =>
        Assert.Equal([0, 0.01, 0.02, 1.0], new long[] { 0, 1, 2, 100 }.Select(k => ArrivalSchedule.OffsetSeconds(k, 100, 0)));

    [Fact]
    public void Arrival_schedule_ramps_linearly_then_holds_the_rate()
    {
        const double rate = 100, ramp = 10;
        // during a linear ramp to 100/s over 10 s, 500 arrivals happen
        Assert.Equal(ramp, ArrivalSchedule.OffsetSeconds(500, rate, ramp), 9);
        Assert.True(ramp - Math.Sqrt(2 * ramp * 499 / rate) < 0.1);
        // slow at first, then the full rate
        Assert.True(ArrivalSchedule.OffsetSeconds(1, rate, ramp) > 0.4);
        Assert.Equal(0.01, ArrivalSchedule.OffsetSeconds(601, rate, ramp) - ArrivalSchedule.OffsetSeconds(600, rate, ramp), 9);
        var previous = -1.0;
        for (var k = 0; k < 2000; k++)
        {
            var t = ArrivalSchedule.OffsetSeconds(k, rate, ramp);
            Assert.True(t > previous);
            previous = t;
        }
    }
}
