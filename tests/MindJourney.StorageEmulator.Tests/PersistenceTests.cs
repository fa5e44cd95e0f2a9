using Google.Cloud.Storage.V1;
using Microsoft.Extensions.Logging;

namespace MindJourney.StorageEmulator.Tests;

/// <summary>With a data folder, objects survive a stop and a start on the same port (always our emulator, in-process).</summary>
public sealed class PersistenceTests : IDisposable
{
    private readonly string _dataPath = Path.Combine(Path.GetTempPath(), "mj-storage-test-" + Guid.NewGuid().ToString("N"));

    private static StorageEmulatorOptions Options(int port, string dataPath) => new()
    {
        Port = port,
        DataPath = dataPath,
        ConfigureLogging = logging => logging.SetMinimumLevel(LogLevel.Warning),
    };

    private static StorageClient Client(StorageEmulatorHandle emulator) =>
        new StorageClientBuilder { BaseUri = emulator.BaseUri.ToString(), UnauthenticatedAccess = true }.Build();

    [Fact]
    public async Task Objects_SurviveRestart_OnSamePortAndFolder()
    {
        const string bucket = "persist-bucket";
        var small = "experiment-responses/2025-01-01/session-1/text/1_text-response.txt";
        var big = "experiment-responses/2025-01-01/session-1/video/2_clip.webm";
        var smallData = "persisted ✓"u8.ToArray();
        var bigData = StorageFixture.RandomBytes(1_200_000, seed: 42);
        int port;
        long bigGeneration;

        await using (var first = await StorageEmulatorServer.StartAsync(Options(0, _dataPath)))
        {
            port = first.Port;
            using var client = Client(first);
            await client.CreateBucketAsync(StorageFixture.ProjectId, bucket);
            await client.UploadObjectAsync(new Google.Apis.Storage.v1.Data.Object
            {
                Bucket = bucket,
                Name = small,
                ContentType = "text/plain",
                Metadata = new Dictionary<string, string> { ["visitorNumber"] = "9" },
            }, new MemoryStream(smallData));
            var uploaded = await client.UploadObjectAsync(bucket, big, "video/webm", new MemoryStream(bigData),
                new UploadObjectOptions { ChunkSize = UploadObjectOptions.MinimumChunkSize * 2 });
            bigGeneration = uploaded.Generation!.Value;
            await client.PatchObjectAsync(new Google.Apis.Storage.v1.Data.Object
            {
                Bucket = bucket,
                Name = small,
                Metadata = new Dictionary<string, string> { ["responseId"] = "r-1" },
            });
            await client.UploadObjectAsync(bucket, "to-delete.txt", null, new MemoryStream([1]));
            await client.DeleteObjectAsync(bucket, "to-delete.txt");
        }

        // Stopped: the port refuses connections ("storage down").
        using (var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(5) })
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => probe.GetAsync($"http://127.0.0.1:{port}/health"));
        }

        await using var second = await StorageEmulatorServer.StartAsync(Options(port, _dataPath));
        Assert.Equal(port, second.Port);
        using var again = Client(second);

        Assert.Equal(bucket, (await again.GetBucketAsync(bucket)).Name);
        var smallObject = await again.GetObjectAsync(bucket, small);
        Assert.Equal(new Dictionary<string, string> { ["visitorNumber"] = "9", ["responseId"] = "r-1" }, smallObject.Metadata);
        Assert.Equal(2, smallObject.Metageneration);
        Assert.Equal("text/plain", smallObject.ContentType);

        var bigObject = await again.GetObjectAsync(bucket, big);
        Assert.Equal(bigGeneration, bigObject.Generation);
        using var buffer = new MemoryStream();
        await again.DownloadObjectAsync(bucket, big, buffer,
            new DownloadObjectOptions { DownloadValidationMode = DownloadValidationMode.Always });
        Assert.Equal(bigData, buffer.ToArray());

        Assert.Equal(new[] { small, big }, again.ListObjects(bucket).Select(o => o.Name));

        var overwritten = await again.UploadObjectAsync(bucket, big, "video/webm", new MemoryStream([1, 2]));
        Assert.True(overwritten.Generation > bigGeneration);

        // Only live blobs and sidecars are left on disk.
        var files = Directory.GetFiles(Path.Combine(_dataPath, "buckets", bucket, "objects"));
        Assert.Equal(2, files.Count(f => f.EndsWith(".json", StringComparison.Ordinal)));
        Assert.Equal(2, files.Count(f => f.EndsWith(".bin", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Concurrent_writes_each_publish_whole_and_the_newest_generation_is_the_one_kept()
    {
        const string bucket = "concurrent-bucket";
        int port;
        Google.Apis.Storage.v1.Data.Object newest;
        byte[][] payloads = [.. Enumerable.Range(0, 16).Select(i => StorageFixture.RandomBytes(64 + i, seed: i))];
        await using (var first = await StorageEmulatorServer.StartAsync(Options(0, _dataPath)))
        {
            port = first.Port;
            using var client = Client(first);
            await client.CreateBucketAsync(StorageFixture.ProjectId, bucket);

            // Creates of one name race: exactly one wins, the others are refused (412), as GCS does.
            var creates = await Task.WhenAll(payloads.Select(async p =>
            {
                try
                {
                    return await client.UploadObjectAsync(bucket, "created-once.txt", "text/plain", new MemoryStream(p),
                        new UploadObjectOptions { IfGenerationMatch = 0 });
                }
                catch (Google.GoogleApiException e) when (e.HttpStatusCode == System.Net.HttpStatusCode.PreconditionFailed)
                {
                    return null;
                }
            }));
            Assert.Single(creates, c => c is not null);

            // Overwrites of one name race: the version kept is the one with the newest generation.
            var overwrites = await Task.WhenAll(payloads.Select(p =>
                client.UploadObjectAsync(bucket, "overwritten.txt", "text/plain", new MemoryStream(p))));
            Assert.Equal(payloads.Length, overwrites.Select(o => o.Generation).Distinct().Count());
            newest = overwrites.MaxBy(o => o.Generation)!;
            Assert.Equal(newest.Generation, (await client.GetObjectAsync(bucket, "overwritten.txt")).Generation);

            // The refused creates left nothing staged behind (a restart would clear it, so look before).
            Assert.Empty(Directory.GetFiles(Path.Combine(_dataPath, "tmp")));
        }

        await using var second = await StorageEmulatorServer.StartAsync(Options(port, _dataPath));
        using var again = Client(second);
        var kept = await again.GetObjectAsync(bucket, "overwritten.txt");
        Assert.Equal(newest.Generation, kept.Generation);
        Assert.Equal(newest.Md5Hash, kept.Md5Hash);
        using var buffer = new MemoryStream();
        await again.DownloadObjectAsync(bucket, "overwritten.txt", buffer);
        Assert.Equal(newest.Md5Hash, StorageFixture.Md5Base64(buffer.ToArray()));

        // One sidecar and one blob per live object.
        var files = Directory.GetFiles(Path.Combine(_dataPath, "buckets", bucket, "objects"));
        Assert.Equal(2, files.Count(f => f.EndsWith(".json", StringComparison.Ordinal)));
        Assert.Equal(2, files.Count(f => f.EndsWith(".bin", StringComparison.Ordinal)));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dataPath, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
