using System.Security.Cryptography;
using System.Text;

namespace MindJourney.Api.Sessions;

/// <summary>
/// Tells the warm-up's own HTTP requests (<see cref="NumberingWarmUp"/>) from a client's: they carry a secret this
/// process drew at its start, sent only to itself over loopback and forgotten when the warm-up ends. They skip the
/// per-client windows (a few hundred Plays from the loopback address would use up a local client's window), the
/// refused-request log and the request traces: they are the process's own, not a participant's.
/// </summary>
public sealed class WarmUpRequests
{
    public const string HeaderName = "X-MindJourney-Warm-Up";

    private volatile byte[]? _secret = RandomNumberGenerator.GetBytes(32);

    /// <summary>The header's value while the warm-up runs; null once it has ended.</summary>
    internal string? Value => _secret is { } secret ? Convert.ToBase64String(secret) : null;

    /// <summary>From now on no request is the warm-up's.</summary>
    internal void End() => _secret = null;

    public bool IsWarmUp(HttpContext context)
    {
        if (_secret is not { } secret || !context.Request.Headers.TryGetValue(HeaderName, out var sent) || sent.Count != 1)
        {
            return false;
        }

        var expected = Encoding.ASCII.GetBytes(Convert.ToBase64String(secret));
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(sent[0] ?? ""));
    }
}
