using System.Diagnostics.Metrics;

namespace MindJourney.Api.Telemetry;

/// <summary>Names and instruments of the admin side's telemetry (docs/TELEMETRY.md).</summary>
public sealed class AdminTelemetry
{
    public const string SourceName = "MindJourney.Admin";

    /// <summary>Why an admin authentication failed: a wrong key, or any key while the client is throttled.</summary>
    public const string ReasonTag = "mindjourney.admin.auth_failure.reason";

    public const string ReasonWrongKey = "wrong_key";
    public const string ReasonThrottled = "throttled";

    public AdminTelemetry(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(SourceName);
        AuthFailures = meter.CreateCounter<long>("mindjourney.admin.auth_failures", "{request}",
            "Admin calls refused for their key, by mindjourney.admin.auth_failure.reason (wrong_key, throttled).");
    }

    public Counter<long> AuthFailures { get; }
}
