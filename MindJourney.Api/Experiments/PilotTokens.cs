using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Npgsql;

namespace MindJourney.Api.Experiments;

/// <summary>
/// A study's pilot token: <c>HMAC-SHA256(MindJourney:Pilot:SigningKey, study id ‖ the study's pilot nonce)</c>,
/// base64url. It is never stored: the API recomputes it, so only the server can issue one, and replacing the
/// study's nonce (<c>POST /api/admin/experiments/{id}/pilot-token</c>) revokes every token issued before.
/// <c>mode: "pilot"</c> takes a valid token; without one a person would be left out of the live data at will.
/// </summary>
public sealed class PilotTokens(IOptions<PilotOptions> options, NpgsqlDataSource dataSource)
{
    /// <summary>The header the participant page sends the token in when it reads a draft study.</summary>
    public const string Header = "X-Pilot-Token";

    public const int MaxLength = 100;

    private readonly byte[] _signingKey = Encoding.UTF8.GetBytes(options.Value.SigningKey ?? "");

    public string For(Guid studyId, byte[] nonce) => Compute(_signingKey, studyId, nonce);

    /// <summary>The token of study <paramref name="studyId"/> with <paramref name="nonce"/> under
    /// <paramref name="signingKey"/> (UTF-8 bytes of the setting).</summary>
    public static string Compute(byte[] signingKey, Guid studyId, byte[] nonce) =>
        Base64Url.EncodeToString(HMACSHA256.HashData(signingKey, (byte[])[.. studyId.ToByteArray(bigEndian: true), .. nonce]));

    public bool Matches(string? token, Guid studyId, byte[] nonce) =>
        token is { Length: > 0 and <= MaxLength }
        && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(token), Encoding.ASCII.GetBytes(For(studyId, nonce)));

    /// <summary>Whether <paramref name="token"/> is the study's current pilot token; null when there is no such study.</summary>
    public async Task<bool?> IsValidAsync(Guid studyId, string? token, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT pilot_nonce FROM experiments WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = studyId });
        return await command.ExecuteScalarAsync(cancellationToken) is byte[] nonce ? Matches(token, studyId, nonce) : null;
    }
}
