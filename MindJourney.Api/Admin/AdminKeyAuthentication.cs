using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using MindJourney.Api.Infrastructure;

namespace MindJourney.Api.Admin;

/// <summary>
/// Authenticates the admin routes with a shared key sent as <c>Authorization: Bearer &lt;key&gt;</c> or
/// <c>X-Admin-Key: &lt;key&gt;</c>. Fails closed: with no key configured nobody is an admin. The comparison takes
/// the same time whatever the guess, and the key is never logged. Wrong keys are counted per client
/// (<see cref="AdminAuthThrottle"/>): past the limit every key from that client fails, and the challenge answers 429.
/// </summary>
public sealed class AdminKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IOptionsMonitor<AdminOptions> admin,
    AdminAuthThrottle throttle)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "AdminKey";
    public const string PolicyName = "admin";

    /// <summary>The role a valid key confers; the admin policy requires it.</summary>
    public const string AdminRole = "admin";
    public const string KeyHeader = "X-Admin-Key";

    /// <summary>Claim naming the key that signed in, by the first 16 hex digits of its SHA-256: enough to tell keys
    /// apart in the action log, nothing that helps guess one.</summary>
    public const string KeyFingerprintClaim = "mindjourney:admin_key_fingerprint";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var configured = admin.CurrentValue.ApiKey;
        var presented = PresentedKey(Request.Headers);
        if (presented is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var client = ClientAddress.PartitionKey(Context);
        if (throttle.BlockedFor(client) is { } retryAfter)
        {
            return Task.FromResult(AuthenticateResult.Fail(new AdminAuthThrottledException(retryAfter)));
        }

        if (string.IsNullOrEmpty(configured) || !KeysMatch(presented, configured))
        {
            throttle.RecordFailure(client);
            return Task.FromResult(AuthenticateResult.Fail("Invalid admin key."));
        }

        var identity = new ClaimsIdentity(
            [
                new Claim(ClaimTypes.Name, "admin"),
                new Claim(ClaimTypes.Role, AdminRole),
                new Claim(KeyFingerprintClaim, Fingerprint(configured)),
            ],
            SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    /// <summary>An admin route refused: 429 while the client is throttled (also for a call without a key, since the
    /// client is refused whatever it sends), else the usual 401.</summary>
    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await AuthenticateAsync();
        if (result.Failure is null && PresentedKey(Request.Headers) is null
            && throttle.BlockedFor(ClientAddress.PartitionKey(Context)) is { } retryAfter)
        {
            result = AuthenticateResult.Fail(new AdminAuthThrottledException(retryAfter));
        }

        if (AdminAuthThrottle.Refusal(Context, result) is { } refusal)
        {
            await refusal.ExecuteAsync(Context);
            return;
        }

        await base.HandleChallengeAsync(properties);
    }

    private static string? PresentedKey(IHeaderDictionary headers)
    {
        if (headers.TryGetValue(KeyHeader, out var key) && key.Count == 1 && !string.IsNullOrEmpty(key[0]))
        {
            return key[0];
        }

        var authorization = headers.Authorization.ToString();
        const string bearer = "Bearer ";
        return authorization.StartsWith(bearer, StringComparison.OrdinalIgnoreCase) && authorization.Length > bearer.Length
            ? authorization[bearer.Length..].Trim()
            : null;
    }

    public static string Fingerprint(string key) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..16];

    /// <summary>Hashing first makes both sides the same length, so FixedTimeEquals leaks neither content nor length.</summary>
    private static bool KeysMatch(string presented, string configured) =>
        CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(presented)),
            SHA256.HashData(Encoding.UTF8.GetBytes(configured)));
}
