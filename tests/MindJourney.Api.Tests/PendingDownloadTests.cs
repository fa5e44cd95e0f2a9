using System.Net;
using System.Net.Sockets;
using System.Text;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>A pending upload is downloaded from its copy in the database slice by slice, with no connection held
/// while the client reads; when its delivery completes mid-download, the rest comes from storage, byte for byte.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PendingDownloadTests(PostgresServer postgres)
{
    [Fact]
    public async Task A_download_that_outlives_its_pending_copy_continues_from_storage_with_the_same_bytes()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, storage: storage);
        var session = await ApiCalls.StartSessionAsync(api);
        var sessionId = session.Id;
        await storage.StopAsync();
        var video = Uploads.RandomBytes(16 * 1024 * 1024, seed: 21);
        var created = await ApiCalls.RecordAsync(api.Client, Uploads.Multipart(Uploads.Fields(sessionId, "video"), video));
        var responseId = created.Id;
        Assert.Equal("pending", created.Storage.Status);

        // A client with a tiny receive window: the server can be at most a few MiB ahead of what it has read.
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync(IPAddress.Loopback, api.Hosts[0].ServerAddress.Port);
        await socket.SendAsync(Encoding.ASCII.GetBytes(
            $"GET /api/download/{responseId} HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
            $"{SessionSecretRequests.Header}: {session.SessionSecret}\r\nConnection: close\r\n\r\n"));
        using var received = new MemoryStream();
        var buffer = new byte[4096];
        while (received.Length < 256 * 1024)
        {
            var read = await socket.ReceiveAsync(buffer);
            Assert.True(read > 0, "the download ended early");
            received.Write(buffer, 0, read);
        }

        // While the client pauses, the delivery completes and deletes the pending copy.
        // Nothing on the database side waits with it: no transaction stays open while the client reads.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.Equal(0, await api.ScalarAsync<long>(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND xact_start < now() - interval '1 second'"));
        await storage.StartAgainAsync();
        await Uploads.WaitUntilStoredAsync(api, responseId);
        Assert.Equal(0, await api.ScalarAsync<long>($"SELECT count(*) FROM storage_delivery_chunks WHERE response_id = '{responseId}'"));

        int last;
        while ((last = await socket.ReceiveAsync(buffer)) > 0)
        {
            received.Write(buffer, 0, last);
        }

        var all = received.ToArray();
        var headerEnd = all.AsSpan().IndexOf("\r\n\r\n"u8) + 4;
        var head = Encoding.ASCII.GetString(all, 0, headerEnd);
        Assert.StartsWith("HTTP/1.1 200", head, StringComparison.Ordinal);
        Assert.Contains($"Content-Length: {video.Length}", head, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(video.Length, all.Length - headerEnd);
        Assert.True(video.AsSpan().SequenceEqual(all.AsSpan(headerEnd)), "the downloaded bytes differ from the upload");
    }

    [Fact]
    public async Task Slow_downloads_of_pending_uploads_leave_the_pools_free()
    {
        // More slow readers than the main pool has connections (the test connection string names 40), and a bulk
        // pool of one: each reader would have held a connection for its whole transfer.
        await using var api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?>
        {
            ["MindJourney:Database:BulkMaxPoolSize"] = "1",
        });
        var session = await ApiCalls.StartSessionAsync(api);
        var file = Uploads.RandomBytes(16 * 1024 * 1024, seed: 22);
        var created = await ApiCalls.RecordAsync(api.Client,
            Uploads.Multipart(Uploads.Fields(session.Id, "video"), file));
        var responseId = created.Id;

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var readers = Enumerable.Range(0, 48)
            .Select(_ => SlowReader.StartAsync(api.Hosts[0].ServerAddress, $"/api/download/{responseId}",
                session.SessionSecret!, stop.Token))
            .ToArray();
        Assert.All(await Task.WhenAll(readers.Select(r => r.Headers)),
            status => Assert.StartsWith("HTTP/1.1 200", status, StringComparison.Ordinal));

        // Play, a full download and another upload all get through while they all still read.
        await ApiCalls.StartSessionAsync(api);
        Assert.Equal(file, (await Uploads.DownloadAsync(api.Client, responseId, session.SessionSecret!)).Bytes);
        await ApiCalls.RecordAsync(api.Client, Uploads.Multipart(Uploads.Fields(session.Id, "video"), file));
        Assert.All(readers, r => Assert.False(r.Done.IsCompleted));
        await stop.CancelAsync();
        await Task.WhenAll(readers.Select(r => r.Done));
    }
}
