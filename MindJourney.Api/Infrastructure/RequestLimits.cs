namespace MindJourney.Api.Infrastructure;

public static class RequestLimits
{
    /// <summary>JSON bodies of the participant routes. Generous for answers, small enough that a flood of
    /// oversized bodies costs little.</summary>
    public const long JsonBodyBytes = 1024 * 1024;
}
