using System.Security.Cryptography;
using System.Text;
using Aspire.Hosting.Lifecycle;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace MindJourney.AppHost.LocalPostgres;

/// <summary>The machine's own PostgreSQL server, run as an Aspire executable: for machines with no container
/// engine. Its connection string names the application database, which its health check creates.</summary>
public sealed class LocalPostgresResource(string name, string command, string workingDirectory, string databaseName)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    public const string EndpointName = "tcp";

    public required ParameterResource Password { get; init; }

    public string DatabaseName { get; } = databaseName;

    public EndpointReference Endpoint => new(this, EndpointName);

    public ReferenceExpression ServerConnectionString => ReferenceExpression.Create(
        $"Host={Endpoint.Property(EndpointProperty.Host)};Port={Endpoint.Property(EndpointProperty.Port)};"
        + $"Username=postgres;Password={Password}");

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"{ServerConnectionString};Database={DatabaseName}");
}

public static class LocalPostgresBuilderExtensions
{
    /// <summary>initdb once into a data folder that survives restarts, then <c>postgres</c> on 127.0.0.1 and a
    /// free port, as the <c>postgres</c> user when we are root, with default durability (fsync on).</summary>
    public static IResourceBuilder<LocalPostgresResource> AddLocalPostgres(
        this IDistributedApplicationBuilder builder, string name, string databaseName)
    {
        var bin = PostgresInstallation.FindBinDirectory(builder.Configuration["MindJourney:LocalPostgres:BinPath"])
            ?? throw new DistributedApplicationException(
                "No container runtime answers and no PostgreSQL server binaries were found. Install one: " +
                "'apt-get install -y postgresql' (Debian/Ubuntu), Docker or Podman; or set MindJourney:Postgres=external " +
                "with ConnectionStrings:mindjourney.");

        var dataDirectory = Path.Combine(DataRoot(builder), "postgres");
        var port = builder.Configuration.GetValue<int?>("MindJourney:LocalPostgres:Port") ?? PostgresInstallation.FindFreePort();
        var password = builder.AddParameter(
            $"{name}-password", new GenerateParameterDefault { MinLength = 24, Special = false }, secret: true, persist: true);

        var (command, arguments) = PostgresInstallation.AsServerUser(Path.Combine(bin, "postgres"),
            PostgresInstallation.ServerArguments(dataDirectory, port));

        var resource = new LocalPostgresResource(name, command, Path.GetDirectoryName(dataDirectory)!, databaseName)
        {
            Password = password.Resource,
        };
        var restarts = new RestartBudget();
        var healthCheckKey = $"{name}-database-ready";
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(healthCheckKey,
            _ => new DatabaseCreatingHealthCheck(resource), failureStatus: null, tags: null));

        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(resource, async (started, cancellationToken) =>
        {
            RefuseHeldDataDirectory(resource, dataDirectory, started.Services);
            await PostgresInstallation.InitializeDataDirectoryAsync(bin, dataDirectory,
                await password.Resource.GetValueAsync(cancellationToken) ?? throw new InvalidOperationException("No postgres password."),
                cancellationToken);
        });

        return builder.AddResource(resource)
            .WithArgs([.. arguments])
            .WithEndpoint(port: port, targetPort: port, scheme: "tcp", name: LocalPostgresResource.EndpointName, isProxied: false)
            .WithHealthCheck(healthCheckKey)
            .WithIconName("DatabaseStack")
            .OnResourceStopped((_, stopped, _) => ExplainExit(resource, dataDirectory, stopped, restarts));
    }

    /// <summary>A server already on our data folder would make ours exit with one line in the dashboard while the
    /// console stays silent and the API waits: say on both what holds the folder and what to do, and do not start.</summary>
    private static void RefuseHeldDataDirectory(LocalPostgresResource resource, string dataDirectory, IServiceProvider services)
    {
        if (PostmasterLock.FindHolder(dataDirectory) is not { } holder)
        {
            return;
        }

        var message = holder.Describe(dataDirectory);
        var console = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(LocalPostgresResource));
        LocalPostgresLog.DataDirectoryHeld(console, message);
        LocalPostgresLog.DataDirectoryHeld(services.GetRequiredService<ResourceLoggerService>().GetLogger(resource), message);
        throw new DistributedApplicationException(message); // the dashboard shows the resource as failed to start
    }

    /// <summary>PostgreSQL logs its own FATAL lines, but a kill or a crash leaves none: the dashboard's log says why
    /// it stopped (not on the AppHost's own shutdown). A server that was killed or crashed is started again, as a
    /// developer expects of a service the AppHost runs (the API answers 503 meanwhile); one that exited by itself
    /// (a Stop from the dashboard, a bad setting, a held data folder) is left stopped, and so is one that keeps dying.</summary>
    private static Task ExplainExit(LocalPostgresResource resource, string dataDirectory, ResourceStoppedEvent stopped,
        RestartBudget restarts)
    {
        var services = stopped.Services;
        var stopping = services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        if (stopping.IsCancellationRequested)
        {
            return Task.CompletedTask;
        }

        var exitCode = stopped.ResourceEvent.Snapshot.ExitCode;
        var held = PostmasterLock.FindHolder(dataDirectory);
        var killed = held is null && exitCode is null or < 0 or > 128; // how a kill by signal is reported
        var restart = killed && restarts.TryTake();
        var reason = held is not null
            ? held.Describe(dataDirectory)
            : killed
                ? "It was killed (kill -9, the out-of-memory killer) or crashed, so it wrote nothing itself. " + (restart
                    ? "Starting it again: it replays its write-ahead log and keeps the data."
                    : $"It died {RestartBudget.Restarts} times within {RestartBudget.Window.TotalMinutes:0} minutes, so it is "
                        + "left stopped: start it again from the dashboard once the cause is fixed.")
                : "Its own log lines above say why; start it again from the dashboard once that is fixed.";
        var log = services.GetRequiredService<ResourceLoggerService>().GetLogger(resource);
        LocalPostgresLog.ServerExited(log, exitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown", reason);
        if (restart)
        {
            _ = StartAgainAsync(resource, services, log, stopping);
        }

        return Task.CompletedTask;
    }

    /// <summary>The dashboard's own Start command, once the stop has been processed.</summary>
    private static async Task StartAgainAsync(LocalPostgresResource resource, IServiceProvider services, ILogger log,
        CancellationToken stopping)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(1), stopping);
            var result = await services.GetRequiredService<ResourceCommandService>()
                .ExecuteCommandAsync(resource, KnownResourceCommands.StartCommand, stopping);
            if (!result.Success)
            {
                LocalPostgresLog.NotStartedAgain(log, result.Message ?? "the start command failed");
            }
        }
        catch (OperationCanceledException)
        {
            // the AppHost is stopping
        }
    }

    /// <summary>At most <see cref="Restarts"/> automatic starts within <see cref="Window"/>: a server that dies at once
    /// each time (a broken data folder) must not be started forever.</summary>
    private sealed class RestartBudget
    {
        public const int Restarts = 3;
        public static readonly TimeSpan Window = TimeSpan.FromMinutes(5);

        private readonly Queue<DateTimeOffset> _recent = new();

        public bool TryTake()
        {
            lock (_recent)
            {
                var now = DateTimeOffset.UtcNow;
                while (_recent.Count > 0 && now - _recent.Peek() > Window)
                {
                    _recent.Dequeue();
                }

                if (_recent.Count >= Restarts)
                {
                    return false;
                }

                _recent.Enqueue(now);
                return true;
            }
        }
    }

    /// <summary><c>MindJourney:DataPath</c>, else a folder the <c>postgres</c> user can reach: under the AppHost
    /// when we are not root, else under /var/tmp (root's home is closed to other users).</summary>
    internal static string DataRoot(IDistributedApplicationBuilder builder)
    {
        if (builder.Configuration["MindJourney:DataPath"] is { Length: > 0 } configured)
        {
            return Path.GetFullPath(configured);
        }

        if (!PostgresInstallation.RunningAsRoot)
        {
            return Path.Combine(builder.AppHostDirectory, ".data");
        }

        var id = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(builder.AppHostDirectory)))[..12].ToLowerInvariant();
        return Path.Combine("/var/tmp", "mindjourney", id);
    }

    /// <summary>Healthy once the server accepts connections and the application database exists (created here
    /// on the first start).</summary>
    private sealed class DatabaseCreatingHealthCheck(LocalPostgresResource resource) : IHealthCheck
    {
        private bool _databaseExists;

        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                var server = await resource.ServerConnectionString.GetValueAsync(cancellationToken);
                await using var connection = new NpgsqlConnection($"{server};Database=postgres;Pooling=false;Timeout=3");
                await connection.OpenAsync(cancellationToken);
                if (!_databaseExists)
                {
                    await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection)
                    {
                        Parameters = { new() { Value = resource.DatabaseName } },
                    };
                    if (await exists.ExecuteScalarAsync(cancellationToken) is null)
                    {
                        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{resource.DatabaseName}\"", connection);
                        await create.ExecuteNonQueryAsync(cancellationToken);
                    }

                    _databaseExists = true;
                }

                return HealthCheckResult.Healthy();
            }
            catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
            {
                return HealthCheckResult.Unhealthy("PostgreSQL is not ready yet.", ex);
            }
        }
    }
}

internal static partial class LocalPostgresLog
{
    [LoggerMessage(Level = LogLevel.Error, Message = "PostgreSQL not started: {Reason}")]
    public static partial void DataDirectoryHeld(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "PostgreSQL exited with code {ExitCode}. {Reason}")]
    public static partial void ServerExited(ILogger logger, string exitCode, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "PostgreSQL was not started again: {Reason}")]
    public static partial void NotStartedAgain(ILogger logger, string reason);
}
