using System.ComponentModel.DataAnnotations;

namespace MindJourney.Api.Infrastructure;

/// <summary>Settings under <c>MindJourney:ForwardedHeaders</c> (<see cref="TrustedProxies"/>). <c>KnownProxies</c> and
/// <c>KnownNetworks</c> are not here: each may be a list or one comma-separated value, which binding cannot read, so
/// <see cref="TrustedProxies.ReadList"/> parses them at start.</summary>
public sealed class TrustedProxiesOptions
{
    public const string SectionName = "MindJourney:ForwardedHeaders";

    /// <summary>How many proxies in a row (entries of <c>X-Forwarded-For</c>, from the right) are unwound.</summary>
    [Range(1, 100, ErrorMessage = "MindJourney:ForwardedHeaders:ForwardLimit must be between {1} and {2}.")]
    public int ForwardLimit { get; set; } = 1;
}
