using System.ComponentModel.DataAnnotations;

namespace MindJourney.Api.Infrastructure;

/// <summary>Settings under <c>MindJourney:Shutdown</c>: how a replica leaves (<see cref="GracefulShutdown"/>).</summary>
public sealed class ShutdownOptions
{
    public const string SectionName = "MindJourney:Shutdown";

    /// <summary>After the signal, keep serving this long while <c>/health</c> answers Unhealthy, so a load balancer
    /// that polls readiness stops sending new requests before the port closes. A manifest the AppHost publishes sets 5.</summary>
    [Range(0, 3600, ErrorMessage = "MindJourney:Shutdown:DrainSeconds must be between {1} and {2}.")]
    public double DrainSeconds { get; set; }

    /// <summary>The host's shutdown timeout, drain included: requests still running when it ends are cut off. Keep it
    /// below the grace period the platform allows before it kills the process. A published manifest sets 25.</summary>
    [Range(1, 3600, ErrorMessage = "MindJourney:Shutdown:TimeoutSeconds must be between {1} and {2}.")]
    public double TimeoutSeconds { get; set; } = 30;
}
