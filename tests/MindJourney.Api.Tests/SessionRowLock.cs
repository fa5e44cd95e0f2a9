using System.Diagnostics;
using Npgsql;

namespace MindJourney.Api.Tests;

/// <summary>A session's row locked by the test, as a parallel answer of the same session holds it for a moment: an
/// upload's insert waits behind it with its object already in storage, until the test lets go (or kills the API).
/// Makes the window between an upload's object and its row something a test can stand in.</summary>
internal sealed class SessionRowLock : IAsyncDisposable
{
    private readonly string _connectionString;
    private readonly NpgsqlConnection _connection;
    private NpgsqlTransaction? _transaction;

    private SessionRowLock(string connectionString, NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        _connectionString = connectionString;
        _connection = connection;
        _transaction = transaction;
    }

    public static async Task<SessionRowLock> TakeAsync(string connectionString, Guid sessionId)
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand($"SELECT 1 FROM experiment_sessions WHERE id = '{sessionId}' FOR UPDATE",
            connection, transaction);
        Assert.Equal(1, await command.ExecuteScalarAsync());
        return new SessionRowLock(connectionString, connection, transaction);
    }

    /// <summary>Runs <paramref name="sql"/> in the lock's transaction (what the parallel answer changes).</summary>
    public async Task ExecuteAsync(string sql)
    {
        await using var command = new NpgsqlCommand(sql, _connection, _transaction);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Waits until another statement waits for a lock (the upload's insert behind this one), or fails after 30 s.</summary>
    public async Task WaitForWaiterAsync()
    {
        var clock = Stopwatch.StartNew();
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_locks WHERE NOT granted", connection);
        while ((long)(await command.ExecuteScalarAsync())! == 0)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "no statement waited for the session's row within 30 s");
            await Task.Delay(50);
        }
    }

    /// <summary>Commits what <see cref="ExecuteAsync"/> changed and lets the waiting statement go on.</summary>
    public async Task ReleaseAsync()
    {
        await _transaction!.CommitAsync();
        await _transaction.DisposeAsync();
        _transaction = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_transaction is not null)
        {
            await _transaction.DisposeAsync();
        }

        await _connection.DisposeAsync();
    }
}
