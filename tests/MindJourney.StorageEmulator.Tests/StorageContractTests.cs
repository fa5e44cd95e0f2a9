using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Google;
using Google.Cloud.Storage.V1;
using StorageObject = Google.Apis.Storage.v1.Data.Object;

namespace MindJourney.StorageEmulator.Tests;

/// <summary>The storage contract, driven by the real Google.Cloud.Storage.V1 client over HTTP.</summary>
[Collection(StorageCollection.Name)]
public sealed class StorageContractTests(StorageFixture fixture)
{
    private readonly StorageClient _client = fixture.Client;
    private readonly string _bucket = fixture.Bucket;

    private static string Unique(string prefix) => $"{prefix}/{Guid.NewGuid():N}";

    private async Task<byte[]> DownloadAsync(string name, DownloadObjectOptions? options = null)
    {
        using var buffer = new MemoryStream();
        await _client.DownloadObjectAsync(_bucket, name, buffer,
            options ?? new DownloadObjectOptions { DownloadValidationMode = DownloadValidationMode.Always });
        return buffer.ToArray();
    }

    [Fact]
    public async Task SmallUpload_RoundTripsBytesHashesAndFields()
    {
        var name = Unique("small") + "/hello.txt";
        var data = Encoding.UTF8.GetBytes("hello world");

        var uploaded = await _client.UploadObjectAsync(_bucket, name, "text/plain", new MemoryStream(data));

        Assert.Equal(name, uploaded.Name);
        Assert.Equal(_bucket, uploaded.Bucket);
        Assert.Equal(11UL, uploaded.Size);
        Assert.Equal("text/plain", uploaded.ContentType);
        Assert.Equal("XrY7u+Ae7tCTyyK7j1rNww==", uploaded.Md5Hash);
        Assert.Equal("yZRlqg==", uploaded.Crc32c); // crc32c("hello world") = 0xc99465aa, big-endian
        Assert.True(uploaded.Generation > 0);
        Assert.Equal(1, uploaded.Metageneration);
        Assert.NotNull(uploaded.TimeCreatedDateTimeOffset);

        var fetched = await _client.GetObjectAsync(_bucket, name);
        Assert.Equal(uploaded.Generation, fetched.Generation);
        Assert.Equal(uploaded.Md5Hash, fetched.Md5Hash);
        Assert.Equal(data, await DownloadAsync(name));
    }

    [Fact]
    public async Task MultipartUpload_OverHttp_StoresMetadataAndMedia()
    {
        var name = Unique("multipart") + "/note.txt";
        var media = "multipart body ✓"u8.ToArray();
        var metadata = JsonSerializer.Serialize(new
        {
            name,
            contentType = "text/plain; charset=utf-8",
            metadata = new { visitorNumber = "42", sessionId = "s-1" },
        });
        using var content = new MultipartContent("related", "boundary-1234")
        {
            new StringContent(metadata, Encoding.UTF8, "application/json"),
            new ByteArrayContent(media) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } },
        };
        using var response = await fixture.Http.PostAsync($"upload/storage/v1/b/{_bucket}/o?uploadType=multipart", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var stored = await _client.GetObjectAsync(_bucket, name);
        Assert.Equal("text/plain; charset=utf-8", stored.ContentType);
        Assert.Equal((ulong)media.Length, stored.Size);
        Assert.Equal("42", stored.Metadata["visitorNumber"]);
        Assert.Equal("s-1", stored.Metadata["sessionId"]);
        Assert.Equal(media, await DownloadAsync(name));
    }

    [Fact]
    public async Task MultipartUpload_HonoursIfGenerationMatchAndChecksMd5Hash()
    {
        var name = Unique("multipart-conditional") + "/text-response.txt";
        var media = "one request ✓"u8.ToArray();
        var md5 = Convert.ToBase64String(System.Security.Cryptography.MD5.HashData(media));
        HttpContent Body(string md5Hash, byte[] bytes) => new MultipartContent("related")
        {
            new StringContent(JsonSerializer.Serialize(new { name, contentType = "text/plain; charset=utf-8", md5Hash }),
                Encoding.UTF8, "application/json"),
            new ByteArrayContent(bytes) { Headers = { ContentType = new MediaTypeHeaderValue("text/plain") } },
        };
        var url = $"upload/storage/v1/b/{_bucket}/o?uploadType=multipart&ifGenerationMatch=0";

        // Bytes that are not what md5Hash says: refused, nothing stored (as GCS does).
        using (var wrong = await fixture.Http.PostAsync(url, Body(md5, "other bytes"u8.ToArray())))
        {
            Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        }

        await Assert.ThrowsAsync<GoogleApiException>(() => _client.GetObjectAsync(_bucket, name));
        using (var created = await fixture.Http.PostAsync(url, Body(md5, media)))
        {
            Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        }

        var stored = await _client.GetObjectAsync(_bucket, name);
        Assert.Equal(md5, stored.Md5Hash);

        // ifGenerationMatch=0 while the object exists: 412, the object untouched.
        using (var again = await fixture.Http.PostAsync(url, Body(md5, media)))
        {
            Assert.Equal(HttpStatusCode.PreconditionFailed, again.StatusCode);
        }

        Assert.Equal(stored.Generation, (await _client.GetObjectAsync(_bucket, name)).Generation);
        Assert.Equal(media, await DownloadAsync(name));
    }

    [Fact]
    public async Task MediaUpload_OverHttp_UsesContentTypeHeader()
    {
        var name = Unique("media") + "/raw.bin";
        using var body = new ByteArrayContent([1, 2, 3, 4, 5]);
        body.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        using var response = await fixture.Http.PostAsync(
            $"upload/storage/v1/b/{_bucket}/o?uploadType=media&name={Uri.EscapeDataString(name)}", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var stored = await _client.GetObjectAsync(_bucket, name);
        Assert.Equal("image/png", stored.ContentType);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, await DownloadAsync(name));
    }

    [Fact]
    public async Task LargeUpload_WithDefaultChunkSize_ArrivesWhole()
    {
        var name = Unique("large") + "/video.webm";
        var data = StorageFixture.RandomBytes(25 * 1024 * 1024, seed: 25);
        var recorder = new RequestRecorder();
        using var client = fixture.CreateClient(recorder);

        var uploaded = await client.UploadObjectAsync(_bucket, name, "video/webm", new MemoryStream(data));

        Assert.Equal((ulong)data.Length, uploaded.Size);
        Assert.Equal(StorageFixture.Md5Base64(data), uploaded.Md5Hash);
        var chunks = recorder.Requests.Count(r => r.Method == "PUT" && r.ContentRange is not null);
        Assert.True(chunks >= 2, $"expected several chunks, saw {chunks}");
        Assert.Equal(data, await DownloadAsync(name));
    }

    [Fact]
    public async Task ExplicitSmallChunkSize_UploadsInSeveralChunks_KnownAndUnknownLength()
    {
        var data = StorageFixture.RandomBytes(1_300_000, seed: 7);
        var options = new UploadObjectOptions { ChunkSize = UploadObjectOptions.MinimumChunkSize * 2 };

        foreach (var seekable in new[] { true, false })
        {
            var name = Unique("chunked") + (seekable ? "/seekable.bin" : "/stream.bin");
            var recorder = new RequestRecorder();
            using var client = fixture.CreateClient(recorder);
            Stream source = seekable ? new MemoryStream(data) : new NonSeekableStream(data);

            var uploaded = await client.UploadObjectAsync(_bucket, name, "application/octet-stream", source, options);

            Assert.Equal((ulong)data.Length, uploaded.Size);
            var ranges = recorder.Requests.Where(r => r.Method == "PUT").Select(r => r.ContentRange).ToList();
            Assert.Equal(3, ranges.Count); // 512 KiB + 512 KiB + the rest
            Assert.Equal(seekable ? "bytes 0-524287/1300000" : "bytes 0-524287/*", ranges[0]);
            Assert.Equal("bytes 1048576-1299999/1300000", ranges[2]);
            Assert.Equal(data, await DownloadAsync(name));
        }
    }

    [Fact]
    public async Task CustomMetadata_RoundTrips()
    {
        var name = Unique("experiment-responses/2025-01-01/session-x/voice") + "/123_clip.webm";
        var metadata = new Dictionary<string, string>
        {
            ["visitorNumber"] = "123",
            ["sessionId"] = Guid.NewGuid().ToString(),
            ["responseType"] = "voice",
            ["originalName"] = "clip ä ö.webm",
            ["uploadedAt"] = "2025-01-01T10:00:00.000Z",
        };
        var destination = new StorageObject
        {
            Bucket = _bucket,
            Name = name,
            ContentType = "audio/webm",
            Metadata = metadata,
            CacheControl = "private, max-age=60",
            ContentDisposition = "attachment; filename=\"clip.webm\"",
        };

        var uploaded = await _client.UploadObjectAsync(destination, new MemoryStream([9, 8, 7]));
        Assert.Equal(metadata, uploaded.Metadata);

        var fetched = await _client.GetObjectAsync(_bucket, name);
        Assert.Equal(metadata, fetched.Metadata);
        Assert.Equal("audio/webm", fetched.ContentType);
        Assert.Equal("private, max-age=60", fetched.CacheControl);
        Assert.Equal("attachment; filename=\"clip.webm\"", fetched.ContentDisposition);

        var listed = Assert.Single(_client.ListObjects(_bucket, name));
        Assert.Equal(metadata, listed.Metadata);
    }

    [Fact]
    public async Task ListObjects_WithPrefixDelimiterAndPaging()
    {
        var root = Unique("list") + "/";
        string[] names =
        [
            "a.txt", "b.txt", "c.txt", "dir1/x.txt", "dir1/y.txt", "dir1/deeper/z.txt", "dir2/z.txt",
        ];
        foreach (var n in names)
        {
            await _client.UploadObjectAsync(_bucket, root + n, "text/plain", new MemoryStream([1]));
        }

        await _client.UploadObjectAsync(_bucket, root.TrimEnd('/') + "-sibling.txt", "text/plain", new MemoryStream([1]));

        // Flat listing, 2 per page.
        var flatPages = _client.ListObjects(_bucket, root, new ListObjectsOptions { PageSize = 2 }).AsRawResponses().ToList();
        Assert.Equal(4, flatPages.Count);
        Assert.All(flatPages, p => Assert.True(p.Items.Count <= 2));
        Assert.Equal(names.Select(n => root + n).OrderBy(n => n, StringComparer.Ordinal),
            flatPages.SelectMany(p => p.Items).Select(o => o.Name));

        // With a delimiter: files of the folder as items, sub-folders as prefixes; paging counts both.
        var pages = _client.ListObjects(_bucket, root, new ListObjectsOptions { Delimiter = "/", PageSize = 2 })
            .AsRawResponses().ToList();
        Assert.Equal(3, pages.Count);
        Assert.Equal(new[] { "a.txt", "b.txt", "c.txt" }.Select(n => root + n),
            pages.SelectMany(p => p.Items ?? []).Select(o => o.Name));
        Assert.Equal(new[] { root + "dir1/", root + "dir2/" }, pages.SelectMany(p => p.Prefixes ?? []));

        // Prefix inside a folder.
        var inDir1 = _client.ListObjects(_bucket, root + "dir1/", new ListObjectsOptions { Delimiter = "/" })
            .AsRawResponses().Single();
        Assert.Equal(new[] { root + "dir1/x.txt", root + "dir1/y.txt" }, inDir1.Items.Select(o => o.Name));
        Assert.Equal(new[] { root + "dir1/deeper/" }, inDir1.Prefixes);

        // The enumerable (items only) across pages.
        Assert.Equal(7, _client.ListObjects(_bucket, root, new ListObjectsOptions { PageSize = 3 }).Count());
    }

    [Fact]
    public async Task Download_ValidatesHash_AndServesRanges()
    {
        var name = Unique("download") + "/data.bin";
        var data = StorageFixture.RandomBytes(300_000, seed: 3);
        await _client.UploadObjectAsync(_bucket, name, null, new MemoryStream(data));

        Assert.Equal(data, await DownloadAsync(name));

        var slice = await DownloadAsync(name, new DownloadObjectOptions { Range = new RangeHeaderValue(1000, 1999) });
        Assert.Equal(data.AsSpan(1000, 1000).ToArray(), slice);

        using var response = await fixture.Http.GetAsync(
            $"download/storage/v1/b/{_bucket}/o/{Uri.EscapeDataString(name)}?alt=media");
        var hash = Assert.Single(response.Headers.GetValues("x-goog-hash"));
        Assert.Contains("md5=" + StorageFixture.Md5Base64(data), hash, StringComparison.Ordinal);
        Assert.Contains("crc32c=", hash, StringComparison.Ordinal);
        Assert.Equal(data, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task PatchAndUpdate_ChangeCustomMetadata_AndBumpMetageneration()
    {
        var name = Unique("patch") + "/file.txt";
        var uploaded = await _client.UploadObjectAsync(new StorageObject
        {
            Bucket = _bucket,
            Name = name,
            ContentType = "text/plain",
            Metadata = new Dictionary<string, string> { ["visitorNumber"] = "", ["sessionId"] = "s1" },
        }, new MemoryStream([1, 2, 3]));

        var patched = await _client.PatchObjectAsync(new StorageObject
        {
            Bucket = _bucket,
            Name = name,
            Metadata = new Dictionary<string, string> { ["visitorNumber"] = "77", ["responseId"] = "r1" },
        });
        Assert.Equal(2, patched.Metageneration);
        Assert.Equal(uploaded.Generation, patched.Generation);
        Assert.Equal(new Dictionary<string, string> { ["visitorNumber"] = "77", ["sessionId"] = "s1", ["responseId"] = "r1" },
            patched.Metadata);
        Assert.Equal("text/plain", patched.ContentType);

        var current = await _client.GetObjectAsync(_bucket, name);
        current.Metadata = new Dictionary<string, string> { ["only"] = "this" };
        current.ContentType = "application/json";
        var updated = await _client.UpdateObjectAsync(current);
        Assert.Equal(3, updated.Metageneration);
        Assert.Equal(new Dictionary<string, string> { ["only"] = "this" }, updated.Metadata);

        var fetched = await _client.GetObjectAsync(_bucket, name);
        Assert.Equal(new Dictionary<string, string> { ["only"] = "this" }, fetched.Metadata);
        Assert.Equal("application/json", fetched.ContentType);
        Assert.Equal(new byte[] { 1, 2, 3 }, await DownloadAsync(name)); // content untouched

        // A stale metageneration precondition is refused.
        var stale = await Assert.ThrowsAsync<GoogleApiException>(() => _client.PatchObjectAsync(
            new StorageObject { Bucket = _bucket, Name = name, Metadata = new Dictionary<string, string> { ["x"] = "y" } },
            new PatchObjectOptions { IfMetagenerationMatch = 1 }));
        Assert.Equal(HttpStatusCode.PreconditionFailed, stale.HttpStatusCode);
    }

    [Fact]
    public async Task Delete_ThenGetAndDownload_Are404()
    {
        var name = Unique("delete") + "/gone.txt";
        await _client.UploadObjectAsync(_bucket, name, "text/plain", new MemoryStream([1]));

        await _client.DeleteObjectAsync(_bucket, name);

        var get = await Assert.ThrowsAsync<GoogleApiException>(() => _client.GetObjectAsync(_bucket, name));
        Assert.Equal(HttpStatusCode.NotFound, get.HttpStatusCode);
        var download = await Assert.ThrowsAsync<GoogleApiException>(() => DownloadAsync(name));
        Assert.Equal(HttpStatusCode.NotFound, download.HttpStatusCode);
        var delete = await Assert.ThrowsAsync<GoogleApiException>(() => _client.DeleteObjectAsync(_bucket, name));
        Assert.Equal(HttpStatusCode.NotFound, delete.HttpStatusCode);
        Assert.Empty(_client.ListObjects(_bucket, name));
    }

    [Fact]
    public async Task Buckets_CreateGetList_AndErrors()
    {
        var name = StorageFixture.NewBucketName("bucket");

        var created = await _client.CreateBucketAsync(StorageFixture.ProjectId, name);
        Assert.Equal(name, created.Name);

        var fetched = await _client.GetBucketAsync(name);
        Assert.Equal(name, fetched.Name);
        Assert.Equal(created.TimeCreatedDateTimeOffset, fetched.TimeCreatedDateTimeOffset);

        var all = _client.ListBuckets(StorageFixture.ProjectId).Select(b => b.Name).ToList();
        Assert.Contains(name, all);

        var again = await Assert.ThrowsAsync<GoogleApiException>(() => _client.CreateBucketAsync(StorageFixture.ProjectId, name));
        Assert.Equal(HttpStatusCode.Conflict, again.HttpStatusCode);

        var missing = await Assert.ThrowsAsync<GoogleApiException>(() => _client.GetBucketAsync(StorageFixture.NewBucketName("missing")));
        Assert.Equal(HttpStatusCode.NotFound, missing.HttpStatusCode);
        Assert.Equal(404, missing.Error.Code);
        Assert.Equal("notFound", missing.Error.Errors[0].Reason);

        await _client.DeleteBucketAsync(name);
        Assert.DoesNotContain(name, _client.ListBuckets(StorageFixture.ProjectId).Select(b => b.Name));
    }

    [Fact]
    public async Task Overwrite_IncreasesGeneration_AndHonoursIfGenerationMatch()
    {
        var name = Unique("generation") + "/v.txt";
        var first = await _client.UploadObjectAsync(_bucket, name, "text/plain", new MemoryStream([1]));
        var second = await _client.UploadObjectAsync(_bucket, name, "text/plain", new MemoryStream([2, 2]));

        Assert.True(second.Generation > first.Generation, $"{second.Generation} should be > {first.Generation}");
        Assert.Equal(new byte[] { 2, 2 }, await DownloadAsync(name));

        var create = await Assert.ThrowsAsync<GoogleApiException>(() => _client.UploadObjectAsync(_bucket, name, "text/plain",
            new MemoryStream([3]), new UploadObjectOptions { IfGenerationMatch = 0 }));
        Assert.Equal(HttpStatusCode.PreconditionFailed, create.HttpStatusCode);

        var stale = await Assert.ThrowsAsync<GoogleApiException>(() => _client.UploadObjectAsync(_bucket, name, "text/plain",
            new MemoryStream([3]), new UploadObjectOptions { IfGenerationMatch = first.Generation }));
        Assert.Equal(HttpStatusCode.PreconditionFailed, stale.HttpStatusCode);

        var third = await _client.UploadObjectAsync(_bucket, name, "text/plain", new MemoryStream([3]),
            new UploadObjectOptions { IfGenerationMatch = second.Generation });
        Assert.True(third.Generation > second.Generation);

        var old = await Assert.ThrowsAsync<GoogleApiException>(() =>
            _client.GetObjectAsync(_bucket, name, new GetObjectOptions { Generation = first.Generation }));
        Assert.Equal(HttpStatusCode.NotFound, old.HttpStatusCode);
    }

    [Theory]
    [InlineData("spaces and ünïcødé/файл 名前.txt")]
    [InlineData("reserved/a+b=c&d;e,f@g$h.txt")]
    [InlineData("percent/100%25 done #1?.txt")]
    public async Task ObjectNames_WithEncodedCharacters_RoundTrip(string suffix)
    {
        var name = Unique("names") + "/" + suffix;
        var data = Encoding.UTF8.GetBytes(name);
        await _client.UploadObjectAsync(_bucket, name, "text/plain", new MemoryStream(data));

        Assert.Equal(name, (await _client.GetObjectAsync(_bucket, name)).Name);
        Assert.Equal(data, await DownloadAsync(name));
        Assert.Equal(name, Assert.Single(_client.ListObjects(_bucket, name)).Name);
        await _client.DeleteObjectAsync(_bucket, name);
    }

    [Fact]
    public async Task FirebaseRoutes_ServeMetadataAndMedia()
    {
        var name = Unique("firebase") + "/photo 1.jpg";
        var data = StorageFixture.RandomBytes(5000, seed: 11);
        await _client.UploadObjectAsync(new StorageObject
        {
            Bucket = _bucket,
            Name = name,
            ContentType = "image/jpeg",
            Metadata = new Dictionary<string, string> { ["visitorNumber"] = "5" },
        }, new MemoryStream(data));

        var url = $"v0/b/{_bucket}/o/{Uri.EscapeDataString(name)}";
        using var metaResponse = await fixture.Http.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, metaResponse.StatusCode);
        using var meta = JsonDocument.Parse(await metaResponse.Content.ReadAsStringAsync());
        var root = meta.RootElement;
        Assert.Equal(name, root.GetProperty("name").GetString());
        Assert.Equal(_bucket, root.GetProperty("bucket").GetString());
        Assert.Equal("image/jpeg", root.GetProperty("contentType").GetString());
        Assert.Equal("5000", root.GetProperty("size").GetString());
        Assert.Equal(StorageFixture.Md5Base64(data), root.GetProperty("md5Hash").GetString());
        Assert.Equal("5", root.GetProperty("metadata").GetProperty("visitorNumber").GetString());
        Assert.True(long.Parse(root.GetProperty("generation").GetString()!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.False(string.IsNullOrEmpty(root.GetProperty("downloadTokens").GetString()));

        Assert.Equal(data, await fixture.Http.GetByteArrayAsync(url + "?alt=media"));

        using var missing = await fixture.Http.GetAsync($"v0/b/{_bucket}/o/{Uri.EscapeDataString(name + ".nope")}");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var error = JsonDocument.Parse(await missing.Content.ReadAsStringAsync());
        Assert.Equal(404, error.RootElement.GetProperty("error").GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Errors_UseGoogleJsonShape()
    {
        using var response = await fixture.Http.GetAsync($"storage/v1/b/{_bucket}/o/{Uri.EscapeDataString("no/such object")}");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var error = doc.RootElement.GetProperty("error");
        Assert.Equal(404, error.GetProperty("code").GetInt32());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        var first = error.GetProperty("errors")[0];
        Assert.Equal("global", first.GetProperty("domain").GetString());
        Assert.Equal("notFound", first.GetProperty("reason").GetString());

        using var bad = await fixture.Http.GetAsync($"storage/v1/b/{_bucket}/o?maxResults=lots");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task ConcurrentUploads_AllLand()
    {
        var root = Unique("concurrent") + "/";
        var payloads = Enumerable.Range(0, 12).Select(i => StorageFixture.RandomBytes(100_000 + i * 1000, seed: i)).ToArray();
        var options = new UploadObjectOptions { ChunkSize = UploadObjectOptions.MinimumChunkSize };

        var uploads = payloads.Select((p, i) => _client.UploadObjectAsync(_bucket, $"{root}{i % 6}.bin", null,
            new MemoryStream(p), options));
        var results = await Task.WhenAll(uploads);

        Assert.Equal(12, results.Select(r => r.Generation).Distinct().Count());
        var listed = _client.ListObjects(_bucket, root).ToList();
        Assert.Equal(6, listed.Count);
        foreach (var obj in listed)
        {
            var bytes = await DownloadAsync(obj.Name);
            Assert.Contains(payloads, p => p.AsSpan().SequenceEqual(bytes));
            Assert.Equal(StorageFixture.Md5Base64(bytes), obj.Md5Hash);
        }
    }

    [Fact]
    public async Task EmulatorDetection_FromEnvironment_Works()
    {
        var previous = Environment.GetEnvironmentVariable("STORAGE_EMULATOR_HOST");
        Environment.SetEnvironmentVariable("STORAGE_EMULATOR_HOST", fixture.HostAndPort);
        StorageClient client;
        try
        {
            client = await new StorageClientBuilder { EmulatorDetection = Google.Api.Gax.EmulatorDetection.EmulatorOrProduction }
                .BuildAsync();
        }
        finally
        {
            Environment.SetEnvironmentVariable("STORAGE_EMULATOR_HOST", previous);
        }

        using (client)
        {
            var name = Unique("detected") + "/x.txt";
            var data = StorageFixture.RandomBytes(600_000, seed: 1);
            await client.UploadObjectAsync(_bucket, name, null, new MemoryStream(data),
                new UploadObjectOptions { ChunkSize = UploadObjectOptions.MinimumChunkSize });
            using var buffer = new MemoryStream();
            await client.DownloadObjectAsync(_bucket, name, buffer);
            Assert.Equal(data, buffer.ToArray());
        }
    }

    [Fact]
    public async Task ProductionStyleBaseUri_UnderStorageV1_AlsoWorks()
    {
        // Production's base is https://storage.googleapis.com/storage/v1/; the emulator answers there too.
        using var client = new StorageClientBuilder
        {
            BaseUri = new Uri(fixture.BaseUri, "storage/v1/").ToString(),
            UnauthenticatedAccess = true,
        }.Build();
        var name = Unique("v1-base") + "/x.bin";
        var data = StorageFixture.RandomBytes(700_000, seed: 2);
        await client.UploadObjectAsync(_bucket, name, null, new MemoryStream(data),
            new UploadObjectOptions { ChunkSize = UploadObjectOptions.MinimumChunkSize });
        Assert.Equal((ulong)data.Length, (await client.GetObjectAsync(_bucket, name)).Size);
        Assert.Single(client.ListObjects(_bucket, name));
        using var buffer = new MemoryStream();
        await client.DownloadObjectAsync(_bucket, name, buffer);
        Assert.Equal(data, buffer.ToArray());
        await client.DeleteObjectAsync(_bucket, name);
    }

    [Fact]
    public async Task Health_Answers200()
    {
        if (!fixture.IsOurEmulator)
        {
            return; // other emulators have other health routes
        }

        using var response = await fixture.Http.GetAsync("health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
