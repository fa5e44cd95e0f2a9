namespace MindJourney.LoadTests.Runner;

/// <summary>How <c>--flaky</c> cuts one attempt.</summary>
internal enum NetworkCut
{
    None,

    /// <summary>The request is sent and the server answers; the answer is thrown away unread (a 201 lost on the way
    /// back: a tunnel, a proxy timeout).</summary>
    AfterAnswer,

    /// <summary>The request is cancelled a few milliseconds after it starts, usually while the server works on it (the
    /// connection closes: the server may notice and stop).</summary>
    MidFlight,

    /// <summary>The client stops waiting a few milliseconds after the send and retries at once while the first attempt
    /// goes on (a proxy that timed out toward the client): the retry meets it in flight.</summary>
    Abandoned,
}

/// <summary>Picks which answer and upload attempts <c>--flaky</c> cuts, and how: <paramref name="percent"/> % of
/// them, half after the answer, a quarter cancelled mid-flight, a quarter abandoned mid-flight.</summary>
internal sealed class FlakyNetwork(double percent)
{
    /// <summary>A mid-flight cut (or abandon) falls this long after the send at most: well under an answer's latency under load,
    /// after the request's bytes left (on loopback, within the first millisecond).</summary>
    public static readonly TimeSpan MaxMidFlightDelay = TimeSpan.FromMilliseconds(40);

    private static readonly TimeSpan MinMidFlightDelay = TimeSpan.FromMilliseconds(1);

    public double Percent => percent;

    /// <summary>Whether (and how) the next attempt is cut.</summary>
    public NetworkCut Next()
    {
        if (percent <= 0 || Random.Shared.NextDouble() * 100 >= percent)
        {
            return NetworkCut.None;
        }

        return Random.Shared.Next(4) switch
        {
            0 or 1 => NetworkCut.AfterAnswer,
            2 => NetworkCut.MidFlight,
            _ => NetworkCut.Abandoned,
        };
    }

    public static TimeSpan MidFlightDelay() =>
        MinMidFlightDelay + TimeSpan.FromTicks(Random.Shared.NextInt64((MaxMidFlightDelay - MinMidFlightDelay).Ticks));
}
