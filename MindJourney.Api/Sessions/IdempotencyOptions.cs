using System.ComponentModel.DataAnnotations;

namespace MindJourney.Api.Sessions;

/// <summary>Settings under <c>MindJourney:Idempotency</c>.</summary>
public sealed class IdempotencyOptions
{
    public const string SectionName = "MindJourney:Idempotency";

    /// <summary>The shortest signing key accepted: 32 characters, as the AppHost generates it.</summary>
    public const int MinSigningKeyLength = 32;

    /// <summary>An Idempotency-Key replays its session for at least this long; it is forgotten within one
    /// <see cref="PruneIntervalSeconds"/> after that, and may then start a new session.</summary>
    [Range(0.0, 8760.0, ErrorMessage = "MindJourney:Idempotency:KeyLifetimeHours must be between {1} and {2}.")]
    public double KeyLifetimeHours { get; set; } = 24;

    [Range(0.05, 86400.0, ErrorMessage = "MindJourney:Idempotency:PruneIntervalSeconds must be between {1} and {2}.")]
    public double PruneIntervalSeconds { get; set; } = 600;

    /// <summary>The server's own key under which Idempotency-Keys are stored (HMAC-SHA256), never as sent. Without
    /// it the API does not start: a key kept as sent would let anyone who reads the database replay it.</summary>
    [Required(ErrorMessage = "MindJourney:Idempotency:SigningKey is not set: give the API a random key of at least 32 characters "
        + "(the AppHost generates one as the parameter idempotency-signing-key).")]
    [MinLength(MinSigningKeyLength, ErrorMessage = "MindJourney:Idempotency:SigningKey is shorter than 32 characters: "
        + "give the API a random key of at least 32 characters.")]
    public string? SigningKey { get; set; }
}
