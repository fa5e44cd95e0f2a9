extern alias emulator;

using emulator::MindJourney.StorageEmulator;
using Google.Cloud.Storage.V1;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StorageObject = Google.Apis.Storage.v1.Data.Object;

namespace MindJourney.Testing;

/// <summary>
/// Our storage emulator in this process, on a free loopback port, keeping its objects in a temporary folder so it
/// can be stopped (storage down) and started again on the same port with its objects. <see cref="Settings"/> point
/// an API host at it; <see cref="Client"/> is the real Google client for assertions.
/// </summary>
public sealed class TestStorage : IAsyncDisposable
{
    public const string Bucket = "mindjourney-test.appspot.com";

    private readonly string _dataPath;
    private readonly WritesLog _writes;
    private StorageEmulatorHandle? _emulator;
    private long? _maxRequestBodySize;

    private TestStorage(StorageEmulatorHandle emulator, string dataPath, WritesLog writes)
    {
        _emulator = emulator;
        _dataPath = dataPath;
        _writes = writes;
        Port = emulator.Port;
        Client = new StorageClientBuilder { BaseUri = $"http://{HostAndPort}/", UnauthenticatedAccess = true }.Build();
    }

    public int Port { get; }

    public string HostAndPort => $"127.0.0.1:{Port}";

    public bool IsRunning => _emulator is not null;

    public StorageClient Client { get; }

    /// <summary>What an API host needs to use this emulator.</summary>
    public IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["STORAGE_EMULATOR_HOST"] = HostAndPort,
        ["FIREBASE_STORAGE_BUCKET"] = Bucket,
    };

    /// <summary>With <paramref name="maxRequestBodySize"/>, the emulator refuses (413) any request body larger than
    /// that, as storage refuses an object it will not take.</summary>
    public static async Task<TestStorage> StartAsync(long? maxRequestBodySize = null)
    {
        var dataPath = Path.Combine(Path.GetTempPath(), $"mindjourney-storage-{Guid.NewGuid():N}");
        var writes = new WritesLog();
        return new TestStorage(await StartEmulatorAsync(0, dataPath, maxRequestBodySize, writes), dataPath, writes)
        {
            _maxRequestBodySize = maxRequestBodySize,
        };
    }

    /// <summary>Storage goes down: the port stops answering.</summary>
    public async Task StopAsync()
    {
        if (_emulator is { } emulator)
        {
            _emulator = null;
            await emulator.DisposeAsync();
        }
    }

    /// <summary>Storage comes back on the same port, with the objects it had.</summary>
    public async Task StartAgainAsync()
    {
        if (_emulator is null)
        {
            _emulator = await StartEmulatorAsync(Port, _dataPath, _maxRequestBodySize, _writes);
        }
    }

    /// <summary>How the emulator received each write of <paramref name="objectName"/>, in order, as it logs them:
    /// "multipart upload" (one request carrying the resource and the bytes), "resumable upload (N requests)",
    /// "media upload"...</summary>
    public IReadOnlyList<string> WritesOf(string objectName) => _writes.Of(objectName);

    public async Task<List<StorageObject>> ListAsync(string prefix)
    {
        var objects = new List<StorageObject>();
        try
        {
            await foreach (var item in Client.ListObjectsAsync(Bucket, prefix))
            {
                objects.Add(item);
            }
        }
        catch (Google.GoogleApiException ex) when (ex.HttpStatusCode == System.Net.HttpStatusCode.NotFound)
        {
            // The bucket comes with the first upload: none yet, so nothing stored.
        }

        return objects;
    }

    public async Task<byte[]> DownloadAsync(string objectName)
    {
        using var buffer = new MemoryStream();
        await Client.DownloadObjectAsync(Bucket, objectName, buffer);
        return buffer.ToArray();
    }

    private static async Task<StorageEmulatorHandle> StartEmulatorAsync(int port, string? dataPath, long? maxRequestBodySize,
        WritesLog writes)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var options = new StorageEmulatorOptions
                {
                    Port = port,
                    DataPath = dataPath,
                    ConfigureLogging = logging =>
                    {
                        logging.SetMinimumLevel(LogLevel.Warning);
                        logging.AddProvider(writes);
                        logging.AddFilter<WritesLog>(WritesLog.Category, LogLevel.Debug);
                    },
                };
                if (maxRequestBodySize is { } limit)
                {
                    options.MaxRequestBodySize = limit;
                }

                return await StorageEmulatorServer.StartAsync(options);
            }
            catch (IOException) when (attempt < 20 && port != 0)
            {
                await Task.Delay(250); // the port is still being released
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Client.Dispose();
        try
        {
            Directory.Delete(_dataPath, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        catch (IOException)
        {
        }
    }

    /// <summary>The emulator's "Stored gs://bucket/name ... via {Via}" lines (its object store logs every write).</summary>
    private sealed class WritesLog : ILoggerProvider, ILogger
    {
        public const string Category = "MindJourney.StorageEmulator.ObjectStore";

        private readonly List<(string Name, string Via)> _writes = [];

        public IReadOnlyList<string> Of(string objectName)
        {
            lock (_writes)
            {
                return [.. _writes.Where(w => w.Name == objectName).Select(w => w.Via)];
            }
        }

        public ILogger CreateLogger(string categoryName) => categoryName == Category ? this : NullLogger.Instance;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            if (state is IReadOnlyList<KeyValuePair<string, object?>> fields
                && fields.FirstOrDefault(f => f.Key == "Via").Value is string via
                && fields.FirstOrDefault(f => f.Key == "Name").Value is string name)
            {
                lock (_writes)
                {
                    _writes.Add((name, via));
                }
            }
        }

        public void Dispose()
        {
        }
    }
}
