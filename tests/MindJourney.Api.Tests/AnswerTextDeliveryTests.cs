using System.Net;
using System.Security.Cryptography;
using System.Text;
using MindJourney.Api.Admin;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>The delivery worker's texts loop: the claim carries each answer's text, each object is written by one
/// request (a multipart upload), and the round's objects are completed by one statement. The answers are recorded by
/// an API without storage, then a second API with storage (the worker) starts on the same database and finds them all
/// due: one round.</summary>
[Collection(PostgresCollection.Name)]
public sealed class AnswerTextDeliveryTests(PostgresServer postgres)
{
    private const string OneRequest = "multipart upload";

    [Fact]
    public async Task A_round_of_texts_is_written_one_request_each_completed_together_and_a_withdrawn_persons_object_deleted()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var relay = StorageRelay.To(storage);
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var staying = await ApiCalls.StartSessionAsync(api);
        var leaving = await ApiCalls.StartSessionAsync(api);
        var answers = new List<(Guid Id, string Name, string Text)>();
        for (var i = 0; i < 5; i++)
        {
            var text = $"answer {i} — «ça va»";
            var created = await ApiCalls.RecordTextAsync(api.Client, staying.Id, text);
            answers.Add((created.Id, created.Storage.ObjectName!, text));
        }

        var withdrawn = await ApiCalls.RecordTextAsync(api.Client, leaving.Id, new { text = "mine, until I leave" });

        // Storage takes nothing for now: the worker's round claims the six texts and their uploads wait in the relay.
        relay.HoldAfter(0);
        await using var worker = new ApiHost(api.ConnectionString, WorkerSettings(storage, relay.HostAndPort, AdminTests.WithAdminKey));
        worker.StartServer();
        await Uploads.WaitUntilAsync(async () => await api.ScalarAsync<long>(
            "SELECT count(*) FROM storage_deliveries WHERE attempts = 1") == 6, "the worker claims the six texts in one round");

        // The person withdraws while their text travels: their delivery goes with their answer.
        using (var request = new HttpRequestMessage(HttpMethod.Post, $"/api/admin/users/{leaving.UserId}/withdraw"))
        {
            request.Headers.Add(AdminKeyAuthenticationHandler.KeyHeader, AdminTests.AdminKey);
            using var response = await api.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        relay.Release();
        foreach (var (id, _, _) in answers)
        {
            await Uploads.WaitUntilStoredAsync(api, id);
        }

        // One statement marked them all: the rows it changed carry its one transaction id.
        var number = staying.VisitorNumber!.Value;
        var ids = string.Join(",", answers.Select(a => $"'{a.Id}'"));
        Assert.Equal(1, await api.ScalarAsync<long>($"SELECT count(DISTINCT xmin::text) FROM experiment_responses WHERE id IN ({ids})"));
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM storage_deliveries"));
        foreach (var (id, name, text) in answers)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            var stored = await storage.Client.GetObjectAsync(TestStorage.Bucket, name);
            Assert.Equal(bytes, await storage.DownloadAsync(name));
            Assert.Equal("text/plain; charset=utf-8", stored.ContentType);
            Assert.Equal(Convert.ToBase64String(MD5.HashData(bytes)), stored.Md5Hash);
            Assert.Equal(number.ToString(System.Globalization.CultureInfo.InvariantCulture), stored.Metadata["visitorNumber"]);
            Assert.Equal(id.ToString("D"), stored.Metadata["responseId"]);
            Assert.Equal([OneRequest], storage.WritesOf(name));
            Assert.Equal(number, await api.ScalarAsync<int>(
                $"SELECT object_visitor_number FROM experiment_responses WHERE id = '{id}'"));
        }

        // The withdrawn person's object was written, then deleted once the completion found their answer gone.
        Assert.Equal([OneRequest], storage.WritesOf(withdrawn.Storage.ObjectName!));
        await Uploads.WaitUntilAsync(async () => (await storage.ListAsync(withdrawn.Storage.ObjectName!)).Count == 0,
            "the withdrawn person's object is deleted");
    }

    [Fact]
    public async Task An_object_already_there_with_the_same_bytes_counts_as_delivered_and_other_bytes_stay_pending()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres);
        var session = await ApiCalls.StartSessionAsync(api);
        var lost = await ApiCalls.RecordTextAsync(api.Client, session.Id, "written, but its completion was lost");
        var taken = await ApiCalls.RecordTextAsync(api.Client, session.Id, "mine");
        // What an earlier attempt left (its completion lost), and someone else's bytes under the other's name.
        var before = await storage.Client.UploadObjectAsync(TestStorage.Bucket, lost.Storage.ObjectName!, "text/plain; charset=utf-8",
            new MemoryStream(Encoding.UTF8.GetBytes("written, but its completion was lost")));
        var other = await storage.Client.UploadObjectAsync(TestStorage.Bucket, taken.Storage.ObjectName!, "text/plain",
            new MemoryStream(Encoding.UTF8.GetBytes("not mine")));

        await using var worker = new ApiHost(api.ConnectionString, WorkerSettings(storage, storage.HostAndPort));
        worker.StartServer();
        await Uploads.WaitUntilStoredAsync(api, lost.Id);
        await Uploads.WaitUntilAsync(async () => await api.ScalarAsync<string>(
            $"SELECT last_error FROM storage_deliveries WHERE response_id = '{taken.Id}'") is not null, "the conflict is recorded");

        Assert.Equal(before.Generation, (await storage.Client.GetObjectAsync(TestStorage.Bucket, lost.Storage.ObjectName!)).Generation);
        Assert.Equal("pending", await api.ScalarAsync<string>($"SELECT storage_status FROM experiment_responses WHERE id = '{taken.Id}'"));
        Assert.Equal("StorageConflictException", await api.ScalarAsync<string>(
            $"SELECT last_error FROM storage_deliveries WHERE response_id = '{taken.Id}'"));
        Assert.Equal(other.Generation, (await storage.Client.GetObjectAsync(TestStorage.Bucket, taken.Storage.ObjectName!)).Generation);
        Assert.Equal("not mine"u8.ToArray(), await storage.DownloadAsync(taken.Storage.ObjectName!));
    }

    /// <summary>An API with storage (through <paramref name="hostAndPort"/>) polling as TestApi's do.</summary>
    private static Dictionary<string, string?> WorkerSettings(TestStorage storage, string hostAndPort,
        IReadOnlyDictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>(storage.Settings)
        {
            ["STORAGE_EMULATOR_HOST"] = hostAndPort,
            ["MindJourney:Storage:PollIntervalSeconds"] = "0.1",
            ["MindJourney:Storage:RetryInitialDelaySeconds"] = "0.2",
            ["MindJourney:Storage:RetryMaxDelaySeconds"] = "1",
            ["MindJourney:Storage:UploadTimeoutSeconds"] = "30",
        };
        foreach (var (key, value) in more ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return settings;
    }
}
