using System.Net.Http.Json;
using System.Security.Cryptography;
using MindJourney.Api.Experiments;
using MindJourney.Testing;
using Npgsql;

namespace MindJourney.Api.Tests;

/// <summary>An API killed (SIGKILL) in the middle of an upload leaves either a complete object with its row, or
/// nothing the client was told was stored. A real API process, killed at a moment the test holds it in: while the
/// bytes travel to storage (a relay stalls them), or with the object in storage and its row just committed (the
/// test holds the session's row locked, as a parallel answer would for a moment, until the upload waits for it).</summary>
[Collection(PostgresCollection.Name)]
public sealed class UploadCrashTests(PostgresServer postgres)
{
    private const string Objects = "experiment-responses/";

    [Fact]
    public async Task Killed_while_the_bytes_travel_to_storage_the_client_is_told_nothing_and_nothing_is_kept()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using var storage = await TestStorage.StartAsync();
        await using var relay = StorageRelay.To(storage);
        var database = await postgres.CreateDatabaseAsync();
        await using var api = await ApiProcess.StartAsync(database, Settings(relay.HostAndPort), timeout.Token);
        using var client = new HttpClient { BaseAddress = api.Address, Timeout = TimeSpan.FromSeconds(60) };
        var sessionId = await NewSessionAsync(client);
        // Larger than what the sockets on either side of the relay can hold: the upload cannot finish on its own.
        var video = Uploads.RandomBytes(32 * 1024 * 1024, seed: 61);
        relay.HoldAfter(1024 * 1024);

        var upload = client.PostAsync("/api/response", Uploads.Multipart(Uploads.Fields(sessionId, "video"), video), timeout.Token);
        await Uploads.WaitUntilAsync(() => Task.FromResult(relay.BytesToStorage >= 1024 * 1024), "the upload is under way to storage");
        await api.KillAsync();
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => upload);
        relay.Release();
        await Uploads.WaitUntilAsync(() => Task.FromResult(relay.Connections == 0), "the dead API's connections to storage are closed");

        Assert.Empty(await storage.ListAsync(Objects));
        Assert.Equal(0, await ScalarAsync(database, $"SELECT count(*) FROM experiment_responses WHERE session_id = '{sessionId}'"));
        Assert.Equal(0, await ScalarAsync(database, "SELECT count(*) FROM storage_deliveries"));
        Assert.Equal(0, await ScalarAsync(database,
            $"SELECT response_count + file_count + stored_bytes FROM experiment_sessions WHERE id = '{sessionId}'"));
    }

    [Fact]
    public async Task Killed_right_after_the_row_commits_the_row_names_a_complete_object()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using var storage = await TestStorage.StartAsync();
        var database = await postgres.CreateDatabaseAsync();
        await using var api = await ApiProcess.StartAsync(database, Settings(storage.HostAndPort), timeout.Token);
        using var client = new HttpClient { BaseAddress = api.Address, Timeout = TimeSpan.FromSeconds(60) };
        var sessionId = await NewSessionAsync(client);
        var video = Uploads.RandomBytes(2 * 1024 * 1024, seed: 62);

        Task<HttpResponseMessage> upload;
        await using (var rowLock = await SessionRowLock.TakeAsync(database, sessionId))
        {
            upload = client.PostAsync("/api/response", Uploads.Multipart(Uploads.Fields(sessionId, "video"), video), timeout.Token);
            await Uploads.WaitUntilAsync(async () => (await storage.ListAsync(Objects)).Count == 1, "the upload's object is in storage");
            await rowLock.WaitForWaiterAsync();
            await rowLock.ReleaseAsync();
        }

        await Uploads.WaitUntilAsync(async () => await ScalarAsync(database,
            $"SELECT count(*) FROM experiment_responses WHERE session_id = '{sessionId}'") == 1, "the upload's row is committed");
        await api.KillAsync();
        try
        {
            (await upload).Dispose(); // a 201 or nothing: either way the upload is whole
        }
        catch (HttpRequestException)
        {
        }

        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync(timeout.Token);
        await using var read = new NpgsqlCommand(
            $"SELECT file_id, file_md5, file_size_bytes, storage_status FROM experiment_responses WHERE session_id = '{sessionId}'",
            connection);
        await using var row = await read.ExecuteReaderAsync(timeout.Token);
        Assert.True(await row.ReadAsync(timeout.Token));
        var (objectName, md5, size, status) = (row.GetString(0), row.GetString(1), row.GetInt64(2), row.GetString(3));
        Assert.Equal("stored", status);
        Assert.Equal(Convert.ToBase64String(MD5.HashData(video)), md5);
        Assert.Equal(video.Length, size);
        var stored = Assert.Single(await storage.ListAsync(Objects));
        Assert.Equal(objectName, stored.Name);
        Assert.Equal(md5, stored.Md5Hash);
        Assert.Equal(video, await storage.DownloadAsync(objectName));
        Assert.Equal(0, await ScalarAsync(database, "SELECT count(*) FROM storage_deliveries"));
    }

    private static Dictionary<string, string> Settings(string storageHostAndPort) => new()
    {
        ["Admin:ApiKey"] = AdminTests.AdminKey,
        ["STORAGE_EMULATOR_HOST"] = storageHostAndPort,
        ["FIREBASE_STORAGE_BUCKET"] = TestStorage.Bucket,
        ["MindJourney:Storage:UploadTimeoutSeconds"] = "30",
    };

    private static async Task<Guid> NewSessionAsync(HttpClient client)
    {
        var experiment = await client.GetFromJsonAsync<ExperimentSummary>("/api/experiment");
        return (await ApiCalls.StartSessionAsync(client, new { experimentId = experiment!.Id })).Id;
    }

    private static async Task<long> ScalarAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
