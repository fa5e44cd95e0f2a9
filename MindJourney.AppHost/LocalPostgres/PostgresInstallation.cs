using System.Diagnostics;
using System.Runtime.InteropServices;

namespace MindJourney.AppHost.LocalPostgres;

/// <summary>
/// The machine's PostgreSQL server binaries: finding them, creating a data folder once, and running them as the
/// <c>postgres</c> user when we are root (PostgreSQL refuses to run as root). Used by the AppHost's <c>local</c>
/// mode and by the test fixtures, so both start the server the same way.
/// </summary>
public static class PostgresInstallation
{
    public const string ServerUser = "postgres";

    /// <summary>The folder holding <c>postgres</c> and <c>initdb</c>: the configured one, then <c>pg_config --bindir</c>,
    /// then the newest <c>/usr/lib/postgresql/*/bin</c>. Null when none has a server.</summary>
    public static string? FindBinDirectory(string? configured = null)
    {
        IEnumerable<string?> Candidates()
        {
            yield return configured;
            yield return TryRun("pg_config", "--bindir");
            const string debianRoot = "/usr/lib/postgresql";
            if (Directory.Exists(debianRoot))
            {
                foreach (var dir in Directory.GetDirectories(debianRoot)
                             .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
                {
                    yield return Path.Combine(dir, "bin");
                }
            }
        }

        return Candidates().FirstOrDefault(dir =>
            !string.IsNullOrWhiteSpace(dir) && File.Exists(Path.Combine(dir, "postgres")) && File.Exists(Path.Combine(dir, "initdb")));
    }

    public static bool RunningAsRoot => OperatingSystem.IsLinux() && geteuid() == 0;

    /// <summary>The command line that runs <paramref name="executable"/> as the server user. <c>setpriv</c> execs
    /// in place (no fork, unlike <c>runuser</c>), so whoever started it watches and stops the real process.</summary>
    public static (string FileName, List<string> Arguments) AsServerUser(string executable, IEnumerable<string> arguments)
    {
        if (!RunningAsRoot)
        {
            return (executable, arguments.ToList());
        }

        return ("setpriv", [$"--reuid={ServerUser}", $"--regid={ServerUser}", "--init-groups", executable, .. arguments]);
    }

    /// <summary>Runs <c>initdb</c> into <paramref name="dataDirectory"/> unless it already holds a cluster.
    /// Password authentication on TCP; no Unix socket is used.</summary>
    public static async Task InitializeDataDirectoryAsync(
        string binDirectory, string dataDirectory, string password, CancellationToken cancellationToken = default)
    {
        if (File.Exists(Path.Combine(dataDirectory, "PG_VERSION")))
        {
            return;
        }

        Directory.CreateDirectory(dataDirectory);
        var passwordFile = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(dataDirectory))!, $".pwfile-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(passwordFile, password, cancellationToken);
        try
        {
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            if (RunningAsRoot)
            {
                await RunAsync("chown", ["-R", $"{ServerUser}:{ServerUser}", dataDirectory, passwordFile], cancellationToken);
            }

            var (fileName, arguments) = AsServerUser(Path.Combine(binDirectory, "initdb"),
                ["-D", dataDirectory, "-U", "postgres", "-E", "UTF8", "--locale=C", "--auth-host=scram-sha-256",
                 "--auth-local=scram-sha-256", $"--pwfile={passwordFile}"]);
            await RunAsync(fileName, arguments, cancellationToken);
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    /// <summary>Arguments for <c>postgres</c>: loopback only, the given port, no Unix socket.</summary>
    public static List<string> ServerArguments(string dataDirectory, int port, params string[] settings)
    {
        List<string> arguments =
            ["-D", dataDirectory, "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-h", "127.0.0.1", "-k", ""];
        foreach (var setting in settings)
        {
            arguments.Add("-c");
            arguments.Add(setting);
        }

        return arguments;
    }

    /// <summary>A TCP port nobody listens on right now.</summary>
    public static int FindFreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Asks a server started by us to stop (SIGINT is PostgreSQL's "fast shutdown").</summary>
    public static void RequestFastShutdown(int processId) => _ = kill(processId, 2);

    private static async Task RunAsync(string fileName, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(fileName)} failed ({process.ExitCode}): {await stderr}{await stdout}");
        }
    }

    private static string? TryRun(string fileName, string argument)
    {
        try
        {
            using var process = Process.Start(
                new ProcessStartInfo(fileName, argument) { RedirectStandardOutput = true, RedirectStandardError = true });
            if (process is null)
            {
                return null;
            }

            var output = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return process.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // not installed
        }
    }

    [DllImport("libc")]
    private static extern uint geteuid();

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
