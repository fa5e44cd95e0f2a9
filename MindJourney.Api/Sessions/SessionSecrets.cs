using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace MindJourney.Api.Sessions;

/// <summary>
/// The per-session secret that lets a participant read and update their own session, answers and files (session
/// ids travel in logs, traces and object names, so an id alone proves nothing). A secret is 32 random bytes,
/// returned once as base64url when the session starts; the database keeps only its SHA-256.
/// </summary>
public static class SessionSecrets
{
    /// <summary>The request header that carries the secret.</summary>
    public const string Header = "X-Session-Secret";

    private const int SecretBytes = 32;

    public static (string Value, byte[] Hash) Issue()
    {
        Span<byte> secret = stackalloc byte[SecretBytes];
        RandomNumberGenerator.Fill(secret);
        return (Base64Url.EncodeToString(secret), SHA256.HashData(secret));
    }

    /// <summary>True when <paramref name="presented"/> has a secret's form (base64url of 32 bytes): checked before
    /// any query, so a value that cannot match costs no database round trip.</summary>
    public static bool IsWellFormed([NotNullWhen(true)] string? presented) =>
        presented is not null && Base64Url.IsValid(presented, out var length) && length == SecretBytes;

    /// <summary>True when <paramref name="presented"/> is one of the secrets whose hashes are stored. Compares in
    /// constant time.</summary>
    public static bool Matches(string? presented, byte[][]? storedHashes)
    {
        if (storedHashes is null || !IsWellFormed(presented))
        {
            return false;
        }

        Span<byte> secret = stackalloc byte[SecretBytes];
        var written = Base64Url.DecodeFromChars(presented, secret);

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(secret[..written], hash);
        var match = false;
        foreach (var stored in storedHashes)
        {
            match |= CryptographicOperations.FixedTimeEquals(hash, stored);
        }

        return match;
    }
}
