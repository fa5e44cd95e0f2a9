using System.Diagnostics;
using MindJourney.AppHost.LocalPostgres;
using Npgsql;
using Xunit;

namespace MindJourney.Testing;

/// <summary>
/// A real PostgreSQL server for a test collection: the machine's server binaries, a fresh data folder, loopback
/// and a free port. Each test class takes its own database from it (<see cref="CreateDatabaseAsync"/>), so a
/// "fresh database" costs a CREATE DATABASE, not a server start.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private const string Password = "mindjourney-tests";
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"mindjourney-pg-{Guid.NewGuid():N}");
    private Process? _process;
    private bool _durable;

    public int Port { get; private set; }

    /// <summary>A server with PostgreSQL's default durability (fsync, synchronous commit), for the tests that kill it:
    /// with synchronous_commit off, a killed server forgets commits it already acknowledged, by design.</summary>
    public static PostgresServer Durable() => new() { _durable = true };

    public string AdminConnectionString => DatabaseConnectionString("postgres");

    public string DatabaseConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = "postgres",
        Password = Password,
        Database = database,
        // The 500-concurrent tests share one server among up to three API hosts.
        MaxPoolSize = 40,
    }.ConnectionString;

    public async ValueTask InitializeAsync()
    {
        var bin = PostgresInstallation.FindBinDirectory(Environment.GetEnvironmentVariable("MINDJOURNEY_POSTGRES_BIN"))
            ?? throw new InvalidOperationException(
                "No PostgreSQL server binaries found (install the 'postgresql' package, or set MINDJOURNEY_POSTGRES_BIN).");

        Directory.CreateDirectory(_root);
        var data = Path.Combine(_root, "data");
        await PostgresInstallation.InitializeDataDirectoryAsync(bin, data, Password);

        Port = PostgresInstallation.FindFreePort();
        await StartServerAsync();
    }

    /// <summary>The server dies as in a crash (SIGKILL to it and its backends): no shutdown checkpoint, and what the
    /// WAL holds is all that survives. The pools' connections are broken, as the API's would be.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        _process?.Dispose();
        _process = null;
    }

    /// <summary>The server again on the same data folder and port, after <see cref="KillAsync"/>: crash recovery
    /// replays the WAL before it takes connections.</summary>
    public Task StartAgainAsync() => _process is null ? StartServerAsync() : Task.CompletedTask;

    private async Task StartServerAsync()
    {
        var bin = PostgresInstallation.FindBinDirectory(Environment.GetEnvironmentVariable("MINDJOURNEY_POSTGRES_BIN"))!;
        var data = Path.Combine(_root, "data");
        // Durability is not under test here (but for Durable); fsync off keeps the suites fast. max_connections covers
        // three hosts' pools.
        string[] settings = _durable
            ? ["max_connections=300"]
            : ["fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=300"];
        var (fileName, arguments) = PostgresInstallation.AsServerUser(Path.Combine(bin, "postgres"),
            PostgresInstallation.ServerArguments(data, Port, settings));
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true };
        arguments.ForEach(start.ArgumentList.Add);
        _process = Process.Start(start)!;
        var log = new System.Text.StringBuilder();
        _process.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        _process.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(AdminConnectionString);
                await connection.OpenAsync();
                return;
            }
            catch (NpgsqlException) when (deadline.Elapsed < TimeSpan.FromSeconds(60) && !_process.HasExited)
            {
                await Task.Delay(100);
            }
            catch (Exception ex)
            {
                string output;
                lock (log)
                { output = log.ToString(); }

                throw new InvalidOperationException($"PostgreSQL did not start: {ex.Message}\n{output}", ex);
            }
        }
    }

    /// <summary>A new empty database on this server; the API's migrations create the schema in it.</summary>
    public async Task<string> CreateDatabaseAsync(string? name = null)
    {
        name ??= $"t_{Guid.NewGuid():N}";
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return DatabaseConnectionString(name);
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_process is { HasExited: false })
        {
            PostgresInstallation.RequestFastShutdown(_process.Id);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
            }
        }

        _process?.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
