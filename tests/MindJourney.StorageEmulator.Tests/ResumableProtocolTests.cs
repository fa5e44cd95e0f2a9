using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Google.Cloud.Storage.V1;

namespace MindJourney.StorageEmulator.Tests;

/// <summary>The resumable upload protocol at the HTTP level: 308 + Range, status queries, overlaps, cancel.</summary>
[Collection(StorageCollection.Name)]
public sealed class ResumableProtocolTests(StorageFixture fixture)
{
    private const int Chunk = 256 * 1024;

    private async Task<Uri> StartAsync(string name, long? length = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"upload/storage/v1/b/{fixture.Bucket}/o?uploadType=resumable")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { name, metadata = new { k = "v" } }),
                Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Upload-Content-Type", "application/pdf");
        if (length is { } l)
        {
            request.Headers.Add("X-Upload-Content-Length", l.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        using var response = await fixture.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var location = response.Headers.Location;
        Assert.NotNull(location);
        Assert.True(location.IsAbsoluteUri);
        return location;
    }

    private async Task<HttpResponseMessage> PutAsync(Uri session, byte[] body, string contentRange)
    {
        var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Range", contentRange);
        return await fixture.Http.PutAsync(session, content);
    }

    private static string? RangeOf(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Range", out var values) ? values.Single() : null;

    [Fact]
    public async Task Chunks_StatusQueries_Overlap_AndGap()
    {
        var name = $"resumable/{Guid.NewGuid():N}/doc.pdf";
        var data = StorageFixture.RandomBytes(3 * Chunk + 1000, seed: 99);
        var total = data.Length;
        var session = await StartAsync(name, total);

        using (var status = await PutAsync(session, [], "bytes */*"))
        {
            Assert.Equal(308, (int)status.StatusCode);
            Assert.Null(RangeOf(status)); // nothing received yet
        }

        using (var first = await PutAsync(session, data[..Chunk], $"bytes 0-{Chunk - 1}/*"))
        {
            Assert.Equal(308, (int)first.StatusCode);
            Assert.Equal($"bytes=0-{Chunk - 1}", RangeOf(first));
        }

        using (var status = await PutAsync(session, [], $"bytes */{total}"))
        {
            Assert.Equal(308, (int)status.StatusCode);
            Assert.Equal($"bytes=0-{Chunk - 1}", RangeOf(status));
        }
        // Resending bytes the server already has (a retry after a lost response) must not duplicate them.
        using (var overlap = await PutAsync(session, data[..(2 * Chunk)], $"bytes 0-{2 * Chunk - 1}/{total}"))
        {
            Assert.Equal(308, (int)overlap.StatusCode);
            Assert.Equal($"bytes=0-{2 * Chunk - 1}", RangeOf(overlap));
        }
        // A chunk past the persisted end is not taken; the answer says where to resume.
        using (var gap = await PutAsync(session, data[(3 * Chunk)..], $"bytes {3 * Chunk}-{total - 1}/{total}"))
        {
            Assert.Equal(308, (int)gap.StatusCode);
            Assert.Equal($"bytes=0-{2 * Chunk - 1}", RangeOf(gap));
        }

        using (var last = await PutAsync(session, data[(2 * Chunk)..], $"bytes {2 * Chunk}-{total - 1}/{total}"))
        {
            Assert.Equal(HttpStatusCode.OK, last.StatusCode);
            using var doc = JsonDocument.Parse(await last.Content.ReadAsStringAsync());
            Assert.Equal(name, doc.RootElement.GetProperty("name").GetString());
            Assert.Equal(total.ToString(System.Globalization.CultureInfo.InvariantCulture),
                doc.RootElement.GetProperty("size").GetString());
            Assert.Equal("application/pdf", doc.RootElement.GetProperty("contentType").GetString());
            Assert.Equal("v", doc.RootElement.GetProperty("metadata").GetProperty("k").GetString());
        }
        // A finished session answers with the object again.
        using (var after = await PutAsync(session, [], $"bytes */{total}"))
        {
            Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        }

        using var download = new MemoryStream();
        await fixture.Client.DownloadObjectAsync(fixture.Bucket, name, download);
        Assert.Equal(data, download.ToArray());
    }

    [Fact]
    public async Task ZeroByteObject_And_FinalizeByStatusQuery()
    {
        var empty = $"resumable/{Guid.NewGuid():N}/empty.txt";
        var session = await StartAsync(empty, 0);
        using (var done = await PutAsync(session, [], "bytes */0"))
        {
            Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        }

        Assert.Equal(0UL, (await fixture.Client.GetObjectAsync(fixture.Bucket, empty)).Size);

        // Unknown length: all bytes first, then "bytes */N" closes the upload.
        var name = $"resumable/{Guid.NewGuid():N}/late-total.bin";
        var data = StorageFixture.RandomBytes(Chunk, seed: 5);
        session = await StartAsync(name);
        using (var chunk = await PutAsync(session, data, $"bytes 0-{Chunk - 1}/*"))
        {
            Assert.Equal(308, (int)chunk.StatusCode);
        }

        using (var close = await PutAsync(session, [], $"bytes */{Chunk}"))
        {
            Assert.Equal(HttpStatusCode.OK, close.StatusCode);
        }

        Assert.Equal((ulong)Chunk, (await fixture.Client.GetObjectAsync(fixture.Bucket, name)).Size);
    }

    [Fact]
    public async Task Cancel_ThenSessionIsGone_AndNoObject()
    {
        var name = $"resumable/{Guid.NewGuid():N}/cancelled.bin";
        var session = await StartAsync(name);
        using (await PutAsync(session, new byte[Chunk], $"bytes 0-{Chunk - 1}/*"))
        {
        }

        using (var cancel = await fixture.Http.DeleteAsync(session))
        {
            Assert.Equal(499, (int)cancel.StatusCode);
        }

        using (var after = await PutAsync(session, [], "bytes */*"))
        {
            Assert.Equal(HttpStatusCode.NotFound, after.StatusCode);
        }

        Assert.Empty(fixture.Client.ListObjects(fixture.Bucket, name));
    }

    [Fact]
    public async Task WrongHashOnFinalChunk_IsRejected()
    {
        var name = $"resumable/{Guid.NewGuid():N}/bad-hash.bin";
        var session = await StartAsync(name);
        var content = new ByteArrayContent([1, 2, 3]);
        content.Headers.TryAddWithoutValidation("Content-Range", "bytes 0-2/3");
        using var request = new HttpRequestMessage(HttpMethod.Put, session) { Content = content };
        request.Headers.TryAddWithoutValidation("x-goog-hash", "crc32c=AAAAAA==");
        using var response = await fixture.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(fixture.Client.ListObjects(fixture.Bucket, name));
    }

    [Fact]
    public async Task UnknownSession_Is404()
    {
        var uri = new Uri(fixture.BaseUri, $"upload/storage/v1/b/{fixture.Bucket}/o?uploadType=resumable&upload_id=nope");
        using var response = await PutAsync(uri, [1], "bytes 0-0/1");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(new MediaTypeHeaderValue("application/json") { CharSet = "UTF-8" }.MediaType,
            response.Content.Headers.ContentType?.MediaType);
    }
}
