using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace MindJourney.Api.Sessions;

/// <summary>
/// What the database keeps of an Idempotency-Key: its HMAC-SHA256 under the server's signing key
/// (<c>MindJourney:Idempotency:SigningKey</c>), base64url, never the key as sent. A replay mints a session secret, so a
/// key as sent would let anyone who reads the database (a backup, a dump) take over a session for the key's lifetime;
/// under a key the database does not hold, even a guessable client key cannot be tested offline. Equal keys still give
/// equal values, so the advisory locks, the unique index and a batch's equality work on it unchanged.
/// </summary>
public sealed class IdempotencyKeyHasher(IOptions<IdempotencyOptions> options)
{
    private readonly byte[] _signingKey = Encoding.UTF8.GetBytes(options.Value.SigningKey ?? "");

    public string Hash(string idempotencyKey) =>
        Base64Url.EncodeToString(HMACSHA256.HashData(_signingKey, Encoding.UTF8.GetBytes(idempotencyKey)));
}
