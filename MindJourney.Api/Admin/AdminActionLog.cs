using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Npgsql;
using NpgsqlTypes;

namespace MindJourney.Api.Admin;

public sealed record AdminActionEntry(Guid Id, DateTimeOffset At, string KeyFingerprint, string Action, JsonElement Details);

/// <summary>
/// The record of what researchers did (recoveries, exports, studies created and changed): when, with which key (by
/// its fingerprint, never the key itself) and what it changed. Listed on the researcher page and by <c>GET /api/admin/actions</c>.
/// </summary>
public sealed partial class AdminActionLog(NpgsqlDataSource dataSource, ILogger<AdminActionLog> logger)
{
    public const string Recovery = "recovery";
    public const string Export = "export";
    public const string StudyCreated = "study-created";
    public const string StudyChanged = "study-changed";
    public const string PilotTokenRegenerated = "pilot-token-regenerated";

    public const int DefaultListed = 50;
    public const int MaxListed = 500;

    /// <summary>Written after the action itself: an action that ran is never undone because its record could not
    /// be written (that failure is logged instead).</summary>
    public Task RecordAsync<T>(ClaimsPrincipal admin, string action, T details, JsonTypeInfo<T> detailsType) =>
        RecordAsync(admin.FindFirstValue(AdminKeyAuthenticationHandler.KeyFingerprintClaim) ?? "unknown", action, details, detailsType);

    /// <summary>An action taken without the admin key (a participant's withdrawal): <paramref name="fingerprint"/> says
    /// who.</summary>
    public async Task RecordAsync<T>(string fingerprint, string action, T details, JsonTypeInfo<T> detailsType)
    {
        try
        {
            await using var command = dataSource.CreateCommand(
                "INSERT INTO admin_actions (id, at, key_fingerprint, action, details) VALUES ($1, now(), $2, $3, $4)");
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = Guid.CreateVersion7() });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = fingerprint });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = action });
            command.Parameters.Add(new NpgsqlParameter<string>
            {
                NpgsqlDbType = NpgsqlDbType.Jsonb,
                TypedValue = JsonSerializer.Serialize(details, detailsType),
            });
            await command.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (NpgsqlException ex)
        {
            LogNotRecorded(logger, action, fingerprint, ex);
        }
    }

    /// <summary>Newest first.</summary>
    public async Task<IReadOnlyList<AdminActionEntry>> ListAsync(int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT id, at, key_fingerprint, action, details FROM admin_actions ORDER BY at DESC, id DESC LIMIT $1");
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var actions = new List<AdminActionEntry>();
        while (await reader.ReadAsync(cancellationToken))
        {
            using var details = JsonDocument.Parse(reader.GetString(4));
            actions.Add(new AdminActionEntry(reader.GetGuid(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2),
                reader.GetString(3), details.RootElement.Clone()));
        }

        return actions;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Admin action {Action} by key {KeyFingerprint} ran but could not be recorded")]
    private static partial void LogNotRecorded(ILogger logger, string action, string keyFingerprint, Exception exception);
}
