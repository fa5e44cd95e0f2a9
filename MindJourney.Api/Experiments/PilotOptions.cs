using System.ComponentModel.DataAnnotations;

namespace MindJourney.Api.Experiments;

/// <summary>Settings under <c>MindJourney:Pilot</c>.</summary>
public sealed class PilotOptions
{
    public const string SectionName = "MindJourney:Pilot";

    /// <summary>The shortest signing key accepted: 32 characters, as the AppHost generates it.</summary>
    public const int MinSigningKeyLength = 32;

    /// <summary>The server's own key under which pilot tokens are issued (HMAC-SHA256). Without it the API does not
    /// start: a pilot token anyone could make would let anyone leave the live data.</summary>
    [Required(ErrorMessage = "MindJourney:Pilot:SigningKey is not set: give the API a random key of at least 32 characters "
        + "(the AppHost generates one as the parameter pilot-signing-key).")]
    [MinLength(MinSigningKeyLength, ErrorMessage = "MindJourney:Pilot:SigningKey is shorter than 32 characters: "
        + "give the API a random key of at least 32 characters.")]
    public string? SigningKey { get; set; }
}
