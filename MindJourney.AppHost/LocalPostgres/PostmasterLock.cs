using System.Diagnostics;
using System.Globalization;

namespace MindJourney.AppHost.LocalPostgres;

/// <summary>
/// <c>postmaster.pid</c> in a data folder: PostgreSQL writes it at start and removes it at a clean stop. A live
/// process behind it means another server (a stray from a crashed AppHost, or one started by hand) holds the folder;
/// ours would only log one FATAL line in the dashboard and exit while everything else waits for it.
/// </summary>
internal sealed record PostmasterLock(int ProcessId, int? Port)
{
    public const string FileName = "postmaster.pid";

    /// <summary>The server holding <paramref name="dataDirectory"/> now, or null when the folder is free (no file,
    /// or a stale one whose process is gone: PostgreSQL then takes the folder over by itself).</summary>
    public static PostmasterLock? FindHolder(string dataDirectory)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(Path.Combine(dataDirectory, FileName));
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        if (lines.Length == 0 || !int.TryParse(lines[0].Trim(), CultureInfo.InvariantCulture, out var processId) || !IsAlive(processId))
        {
            return null;
        }

        // Line 4 is the port (https://www.postgresql.org/docs/current/storage-file-layout.html).
        int? port = lines.Length > 3 && int.TryParse(lines[3].Trim(), CultureInfo.InvariantCulture, out var p) ? p : null;
        return new PostmasterLock(processId, port);
    }

    /// <summary>What holds the folder and what to do, for the console and the dashboard.</summary>
    public string Describe(string dataDirectory) =>
        $"Another PostgreSQL (process {ProcessId}{(Port is { } port ? $", port {port}" : "")}) already runs on the data folder " +
        $"{dataDirectory} (a server left from an earlier run, or started by hand), so this AppHost's server cannot start " +
        $"and the API would wait for it. Stop it cleanly with 'kill -INT {ProcessId}' (or 'pg_ctl stop -D {dataDirectory} " +
        "-m fast') and start the AppHost again, or point MindJourney:DataPath at another folder.";

    private static bool IsAlive(int processId)
    {
        try
        {
            using var process = Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false; // no such process
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
