extern alias emulator;

using emulator::MindJourney.StorageEmulator;
using Google.Cloud.Storage.V1;
using Microsoft.Extensions.Logging;
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
    private StorageEmulatorHandle? _emulator;
    private long? _maxRequestBodySize;

    private TestStorage(StorageEmulatorHandle emulator, string dataPath)
    {
        _emulator = emulator;
        _dataPath = dataPath;
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
        return new TestStorage(await StartEmulatorAsync(0, dataPath, maxRequestBodySize), dataPath)
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
            _emulator = await StartEmulatorAsync(Port, _dataPath, _maxRequestBodySize);
        }
    }

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

    private static async Task<StorageEmulatorHandle> StartEmulatorAsync(int port, string? dataPath, long? maxRequestBodySize)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var options = new StorageEmulatorOptions
                {
                    Port = port,
                    DataPath = dataPath,
                    ConfigureLogging = logging => logging.SetMinimumLevel(LogLevel.Warning),
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
}
