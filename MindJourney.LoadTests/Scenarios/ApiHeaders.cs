namespace MindJourney.LoadTests.Scenarios;

/// <summary>The request headers of the API's contract the harness sends.</summary>
internal static class ApiHeaders
{
    /// <summary>A retried Play or answer carries its first attempt's key, so the API stores it once.</summary>
    public const string IdempotencyKey = "Idempotency-Key";

    public const string SessionSecret = "X-Session-Secret";
}
