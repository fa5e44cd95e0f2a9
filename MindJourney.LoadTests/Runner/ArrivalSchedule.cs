namespace MindJourney.LoadTests.Runner;

/// <summary>
/// Open model timetable: when arrival k (0-based) is due, for a target rate reached linearly over a ramp-up.
/// During the ramp the rate at time t is R·t/T, so the arrivals by t are R·t²/(2T); after it, R per second.
/// </summary>
public static class ArrivalSchedule
{
    public static double OffsetSeconds(long k, double ratePerSecond, double rampUpSeconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ratePerSecond);
        if (rampUpSeconds <= 0)
        {
            return k / ratePerSecond;
        }

        var arrivalsDuringRamp = ratePerSecond * rampUpSeconds / 2;
        return k < arrivalsDuringRamp
            ? Math.Sqrt(2 * rampUpSeconds * k / ratePerSecond)
            : rampUpSeconds + ((k - arrivalsDuringRamp) / ratePerSecond);
    }
}
