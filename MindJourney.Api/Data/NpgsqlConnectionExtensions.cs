using Npgsql;

namespace MindJourney.Api.Data;

/// <summary>One statement on a connection the caller holds (an advisory lock, a step of its transaction).</summary>
internal static class NpgsqlConnectionExtensions
{
    /// <summary>Runs <paramref name="sql"/>; <paramref name="timeoutSeconds"/> null keeps the connection string's
    /// command timeout.</summary>
    public static async Task ExecuteAsync(
        this NpgsqlConnection connection, string sql, int? timeoutSeconds, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, sql, timeoutSeconds);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task<object?> ScalarAsync(
        this NpgsqlConnection connection, string sql, int? timeoutSeconds, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, sql, timeoutSeconds);
        return await command.ExecuteScalarAsync(cancellationToken);
    }

    private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, int? timeoutSeconds)
    {
        var command = new NpgsqlCommand(sql, connection);
        if (timeoutSeconds is { } seconds)
        {
            command.CommandTimeout = seconds;
        }

        return command;
    }
}
