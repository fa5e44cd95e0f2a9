using System.Diagnostics;

namespace MindJourney.LoadTests.Metrics;

/// <summary>Stopwatch timestamps and their conversion to microseconds (the histograms' unit).</summary>
public static class Ticks
{
    public static long Now => Stopwatch.GetTimestamp();

    public static long Frequency => Stopwatch.Frequency;

    public static long ToMicroseconds(long ticks) =>
        Stopwatch.Frequency % 1_000_000 == 0
            ? ticks / (Stopwatch.Frequency / 1_000_000)
            : (long)(ticks * (1_000_000.0 / Stopwatch.Frequency));

    public static long FromMicroseconds(long micros) =>
        Stopwatch.Frequency % 1_000_000 == 0
            ? micros * (Stopwatch.Frequency / 1_000_000)
            : (long)(micros * (Stopwatch.Frequency / 1_000_000.0));

    public static long FromSeconds(double seconds) => (long)(seconds * Stopwatch.Frequency);

    public static long FromTimeSpan(TimeSpan t) => (long)(t.TotalSeconds * Stopwatch.Frequency);

    public static double ToSeconds(long ticks) => ticks / (double)Stopwatch.Frequency;
}
