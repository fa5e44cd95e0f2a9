using System.Security.Cryptography;
using Google.Apis.Http;
using Google.Cloud.Storage.V1;
using Microsoft.Extensions.Logging;
using MindJourney.StorageEmulator;

namespace MindJourney.StorageEmulator.Tests;

/// <summary>
/// The endpoint under test: the one STORAGE_EMULATOR_HOST names (host:port) when set, otherwise our emulator started
/// in-process, in memory, on a free loopback port.
/// </summary>
public sealed class StorageFixture : IAsyncLifetime
{
    private StorageEmulatorHandle? _emulator;

    public Uri BaseUri { get; private set; } = null!;
    public string HostAndPort { get; private set; } = null!;
    public bool IsOurEmulator => _emulator is not null;
    public StorageClient Client { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    /// <summary>A bucket of this run (created by the first upload).</summary>
    public string Bucket { get; } = NewBucketName("contract");

    public const string ProjectId = "demo-mindjourney";

    public static string NewBucketName(string purpose) => $"{purpose}-{Guid.NewGuid():N}"[..Math.Min(63, purpose.Length + 33)];

    public async ValueTask InitializeAsync()
    {
        var external = Environment.GetEnvironmentVariable("STORAGE_EMULATOR_HOST");
        if (!string.IsNullOrWhiteSpace(external))
        {
            HostAndPort = external.Replace("http://", "", StringComparison.Ordinal).TrimEnd('/');
        }
        else
        {
            _emulator = await StorageEmulatorServer.StartAsync(new StorageEmulatorOptions
            {
                ConfigureLogging = logging => logging.SetMinimumLevel(LogLevel.Warning),
            });
            HostAndPort = _emulator.HostAndPort;
        }

        BaseUri = new Uri($"http://{HostAndPort}/");
        Client = CreateClient();
        Http = new HttpClient { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(30) };
    }

    public StorageClient CreateClient(IHttpExecuteInterceptor? interceptor = null)
    {
        var client = new StorageClientBuilder { BaseUri = BaseUri.ToString(), UnauthenticatedAccess = true }.Build();
        if (interceptor is not null)
        {
            client.Service.HttpClient.MessageHandler.AddExecuteInterceptor(interceptor);
        }

        return client;
    }

    public async ValueTask DisposeAsync()
    {
        Client?.Dispose();
        Http?.Dispose();
        if (_emulator is not null)
        {
            await _emulator.DisposeAsync();
        }
    }

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static string Md5Base64(byte[] data) => Convert.ToBase64String(MD5.HashData(data));
}

[CollectionDefinition(Name)]
public sealed class StorageCollection : ICollectionFixture<StorageFixture>
{
    public const string Name = "storage endpoint";
}

/// <summary>Records the requests the real client sends (method, URI, Content-Range).</summary>
public sealed class RequestRecorder : IHttpExecuteInterceptor
{
    private readonly List<(string Method, Uri Uri, string? ContentRange)> _requests = [];

    public IReadOnlyList<(string Method, Uri Uri, string? ContentRange)> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    public Task InterceptAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        string? range = null;
        if (request.Content?.Headers.TryGetValues("Content-Range", out var values) == true)
        {
            range = string.Join(",", values);
        }

        lock (_requests)
        {
            _requests.Add((request.Method.Method, request.RequestUri!, range));
        }

        return Task.CompletedTask;
    }
}

/// <summary>A stream that hides its length, so the client uploads with <c>Content-Range: bytes a-b/*</c>.</summary>
public sealed class NonSeekableStream(byte[] data) : Stream
{
    private readonly MemoryStream _inner = new(data);
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
