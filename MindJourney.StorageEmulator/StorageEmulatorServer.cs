using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration.Memory;

namespace MindJourney.StorageEmulator;

/// <summary>Settings of an emulator hosted in-process.</summary>
public sealed class StorageEmulatorOptions
{
    /// <summary>The Firebase Storage emulator's port, used when nothing else is configured.</summary>
    public const int DefaultPort = 9199;

    /// <summary>Address to listen on; loopback by default.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>Port to listen on; 0 picks a free one (read it back from <see cref="StorageEmulatorHandle.Port"/>).</summary>
    public int Port { get; set; }

    /// <summary>Folder that keeps buckets and objects across restarts; null keeps everything in memory.</summary>
    public string? DataPath { get; set; }

    /// <summary>Largest request body accepted (default 2 GiB); null for no limit.</summary>
    public long? MaxRequestBodySize { get; set; } = StorageEmulatorServer.DefaultMaxRequestBodySize;

    /// <summary>Optional logging set-up (default: single-line console, Information for the emulator, Warning for ASP.NET Core).</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; set; }
}

/// <summary>Builds and starts the storage emulator, as a program (<see cref="CreateApp"/>) or inside a test process.</summary>
public static class StorageEmulatorServer
{
    internal const long DefaultMaxRequestBodySize = 2L * 1024 * 1024 * 1024;

    /// <summary>
    /// The emulator as a program: configuration from args, environment and appsettings (<c>Storage:DataPath</c>,
    /// <c>Storage:InMemory</c>, <c>Storage:MaxRequestBodySize</c>); listens on 127.0.0.1:9199 unless <c>--urls</c>,
    /// <c>ASPNETCORE_URLS</c>, <c>ASPNETCORE_HTTP_PORTS</c> or Kestrel endpoints say otherwise.
    /// </summary>
    public static WebApplication CreateApp(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        var config = builder.Configuration;
        // Defaults with the lowest precedence (no appsettings.json: it would flow into projects that reference this one).
        config.Sources.Insert(0, new MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Default"] = "Information",
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
            },
        });
        if (string.IsNullOrEmpty(config["urls"]) && string.IsNullOrEmpty(config["http_ports"])
            && string.IsNullOrEmpty(config["https_ports"]) && !config.GetSection("Kestrel:Endpoints").Exists())
        {
            builder.WebHost.UseUrls($"http://127.0.0.1:{StorageEmulatorOptions.DefaultPort}");
        }

        var inMemory = config.GetValue("Storage:InMemory", false);
        var dataPath = inMemory ? null : config["Storage:DataPath"] is { Length: > 0 } configured
            ? configured
            : Path.Combine(Directory.GetCurrentDirectory(), ".data", "storage-emulator");
        var maxBody = config.GetValue("Storage:MaxRequestBodySize", DefaultMaxRequestBodySize);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        ConfigureServices(builder, dataPath, maxBody <= 0 ? null : maxBody);
        var app = builder.Build();
        MapEndpoints(app);
        return app;
    }

    /// <summary>Starts an emulator on 127.0.0.1 (port 0 = a free port), in memory unless a data folder is given.</summary>
    public static Task<StorageEmulatorHandle> StartAsync(int port = 0, string? dataPath = null,
        CancellationToken cancellationToken = default) =>
        StartAsync(new StorageEmulatorOptions { Port = port, DataPath = dataPath }, cancellationToken);

    /// <summary>Starts an emulator in this process; dispose the handle to stop it (the port is then free again).</summary>
    public static async Task<StorageEmulatorHandle> StartAsync(StorageEmulatorOptions options,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        // An empty builder: no appsettings, environment variables or file watchers of the host process leak in.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(StorageEmulatorServer).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Parse(options.Host), options.Port));
        builder.Services.AddRoutingCore();
        builder.Services.AddLogging(logging =>
        {
            if (options.ConfigureLogging is { } configure)
            {
                configure(logging);
                return;
            }

            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss ";
            });
            logging.SetMinimumLevel(LogLevel.Information);
            logging.AddFilter("Microsoft", LogLevel.Warning);
        });
        ConfigureServices(builder, options.DataPath, options.MaxRequestBodySize);
        var app = builder.Build();
        MapEndpoints(app);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>()
            .Addresses.First();
        return new StorageEmulatorHandle(app, new Uri(address), options.DataPath);
    }

    private static void ConfigureServices(WebApplicationBuilder builder, string? dataPath, long? maxRequestBodySize)
    {
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = maxRequestBodySize;
            k.Limits.MinRequestBodyDataRate = null; // slow CI machines must not cut a big upload
            k.AddServerHeader = false;
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => new ObjectStore(dataPath, sp.GetRequiredService<ILogger<ObjectStore>>(),
            sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton<ResumableUploads>();
    }

    private static void MapEndpoints(WebApplication app)
    {
        _ = app.Services.GetRequiredService<ObjectStore>(); // load the data folder now, not on the first request
        app.UseGcsErrors();
        app.MapGet("/health", () => Results.Text("Healthy"));
        app.MapGet("/", () => Results.Text("MindJourney storage emulator (Cloud Storage JSON API + Firebase /v0 routes)"));
        app.MapGcsJsonApi();
        app.MapGcsUploads();
        app.MapFirebaseApi();
        app.MapFallback((HttpContext c) => GcsErrors.WriteAsync(c, StatusCodes.Status404NotFound, "notFound",
            $"Not Found: {c.Request.Method} {c.Request.Path}"));
    }
}

/// <summary>A running in-process emulator. Dispose (or <see cref="StopAsync"/>) stops it and frees its port.</summary>
public sealed class StorageEmulatorHandle : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _stopped;

    internal StorageEmulatorHandle(WebApplication app, Uri address, string? dataPath)
    {
        _app = app;
        Port = address.Port;
        BaseUri = new Uri($"http://{HostAndPort}/");
        DataPath = dataPath;
    }

    /// <summary>The bound port.</summary>
    public int Port { get; }

    /// <summary>Root URI, e.g. <c>http://127.0.0.1:9199/</c>: the value for <c>StorageClientBuilder.BaseUri</c>.</summary>
    public Uri BaseUri { get; }

    /// <summary><c>127.0.0.1:PORT</c>: the value for <c>STORAGE_EMULATOR_HOST</c>.</summary>
    public string HostAndPort => $"127.0.0.1:{Port}";

    /// <summary>The data folder, or null when in memory.</summary>
    public string? DataPath { get; }

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        try
        {
            await _app.StopAsync(cancellationToken);
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());
}
