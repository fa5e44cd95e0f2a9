using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using MindJourney.Api.Experiments;
using MindJourney.Api.Storage;
using MindJourney.Api.Telemetry;
using MindJourney.Testing;
using Npgsql;

namespace MindJourney.Api.Tests;

/// <summary>The orphan sweep (Storage/OrphanObjectSweep.cs) against the real emulator and PostgreSQL: what an upload cut
/// between its object and its row leaves is deleted once it is older than the grace; an object an answer or a pending
/// delivery names, and a young one (an upload that may still be between the two), stay.</summary>
[Collection(PostgresCollection.Name)]
public sealed class OrphanSweepTests(PostgresServer postgres)
{
    private const string SweepPath = "/api/admin/storage/orphans/sweep";

    /// <summary>Long enough that the test can write the young object after the others have aged past it.</summary>
    private const double GraceSeconds = 2;

    [Fact]
    public async Task A_sweep_deletes_old_orphans_and_keeps_answered_pending_and_young_objects_a_dry_run_deletes_nothing()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, settings: Settings(), storage: storage);
        using var deletedCounter = new MetricCollector<long>(api.Hosts[0].Services.GetRequiredService<IMeterFactory>(),
            StorageTelemetry.SourceName, "mindjourney.storage.orphans.deleted");
        using var spans = new SpanRecorder(StorageTelemetry.SourceName);
        var session = await Uploads.NewSessionAsync(api);
        var answered = await Uploads.PostCreatedAsync(api.Client,
            Uploads.Multipart(Uploads.Fields(session.Id, "video"), Uploads.RandomBytes(64 * 1024, seed: 71)));
        Assert.Equal("stored", answered.Storage.Status);
        var (text, pending) = await PendingDeliveryObjectAsync(api, storage, session.Id);
        var today = await WriteAsync(storage, DateTimeOffset.UtcNow, "killed.webm");
        var yesterday = await WriteAsync(storage, DateTimeOffset.UtcNow.AddDays(-1), "killed-before-midnight.webm");
        var threeDaysAgo = await WriteAsync(storage, DateTimeOffset.UtcNow.AddDays(-3), "withdrawal-left.webm");
        await Task.Delay(TimeSpan.FromSeconds(GraceSeconds + 0.5));
        var young = await WriteAsync(storage, DateTimeOffset.UtcNow, "still-uploading.webm");
        var kept = new[] { answered.Storage.ObjectName!, text, pending, young };

        var dryRun = await SweepAsync(api.Client, "?dryRun=true");
        Assert.Equal((6, 2, 0, 2, true), Counts(dryRun)); // the default two days: the one from three days ago is not listed
        Assert.Equal(Sorted([.. kept, today, yesterday, threeDaysAgo]), await NamesAsync(storage));

        var swept = await SweepAsync(api.Client, "");
        Assert.Equal((6, 2, 2, 2, false), Counts(swept));
        Assert.Equal(Sorted([.. kept, threeDaysAgo]), await NamesAsync(storage));

        var fourDays = await SweepAsync(api.Client, "?days=4");
        Assert.Equal((5, 1, 1, 4, false), Counts(fourDays));
        Assert.Equal(Sorted(kept), await NamesAsync(storage));
        Assert.Equal(2, await api.ScalarAsync<long>($"SELECT count(*) FROM admin_actions WHERE action = '{OrphanSweepApi.ActionName}'"));
        Assert.Equal(3, deletedCounter.GetMeasurementSnapshot().Sum(m => m.Value));
        var rounds = spans.Completed.Where(s => s.OperationName == StorageTelemetry.OrphanSweepActivity).ToList();
        Assert.Equal(new[] { (0, true), (2, false), (1, false) },
            rounds.Select(s => ((int)s.GetTagItem(StorageTelemetry.SweepDeletedTag)!,
                (bool)s.GetTagItem(StorageTelemetry.SweepDryRunTag)!)));
    }

    [Fact]
    public async Task An_api_killed_between_an_uploads_object_and_its_row_leaves_an_orphan_the_sweep_deletes()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using var storage = await TestStorage.StartAsync();
        var database = await postgres.CreateDatabaseAsync();
        var processSettings = new Dictionary<string, string>
        {
            ["STORAGE_EMULATOR_HOST"] = storage.HostAndPort,
            ["FIREBASE_STORAGE_BUCKET"] = TestStorage.Bucket,
            ["MindJourney:Storage:UploadTimeoutSeconds"] = "30",
        };
        Guid sessionId;
        await using (var killed = await ApiProcess.StartAsync(database, processSettings, timeout.Token))
        {
            using var client = new HttpClient { BaseAddress = killed.Address, Timeout = TimeSpan.FromSeconds(60) };
            var experiment = await client.GetFromJsonAsync<ExperimentSummary>("/api/experiment", timeout.Token);
            sessionId = (await ApiCalls.StartSessionAsync(client, new { experimentId = experiment!.Id })).Id;
            await using var rowLock = await SessionRowLock.TakeAsync(database, sessionId);
            var upload = client.PostAsync("/api/response",
                Uploads.Multipart(Uploads.Fields(sessionId, "video"), Uploads.RandomBytes(256 * 1024, seed: 72)), timeout.Token);
            await Uploads.WaitUntilAsync(async () => (await NamesAsync(storage)).Count == 1, "the upload's object is in storage");
            await rowLock.WaitForWaiterAsync();
            await killed.KillAsync();
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => upload);
            // The database fails the statement the dead API left waiting (a backend left alone would still commit it).
            await ExecuteAsync(database, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()");
            await rowLock.ReleaseAsync();
        }

        var orphan = Assert.Single(await NamesAsync(storage));
        Assert.Contains($"session-{sessionId}", orphan, StringComparison.Ordinal);
        Assert.Equal(0L, await ScalarAsync(database, $"SELECT count(*) FROM experiment_responses WHERE session_id = '{sessionId}'"));
        await Task.Delay(TimeSpan.FromSeconds(GraceSeconds + 0.5));

        var settings = Settings();
        foreach (var (key, value) in storage.Settings)
        {
            settings[key] = value;
        }

        await using var host = new ApiHost(database, settings);
        Assert.Equal((1, 1, 1, 2, false), Counts(await SweepAsync(host.CreateClient(), "")));
        Assert.Empty(await NamesAsync(storage));
    }

    [Fact]
    public async Task The_background_sweep_deletes_an_old_orphan_and_keeps_the_answered_object()
    {
        await using var storage = await TestStorage.StartAsync();
        var settings = Settings();
        settings["MindJourney:Storage:OrphanSweepIntervalSeconds"] = "0.3";
        await using var api = await TestApi.StartAsync(postgres, settings: settings, storage: storage);
        var session = await Uploads.NewSessionAsync(api);
        var answered = await Uploads.PostTextAsync(api.Client, session.Id, "kept: an answer names it");
        await Uploads.WaitUntilStoredAsync(api, answered.Id);
        var orphan = await WriteAsync(storage, DateTimeOffset.UtcNow, "killed.webm");

        await Uploads.WaitUntilAsync(async () => !(await NamesAsync(storage)).Contains(orphan), "the background sweep deletes the orphan");
        await Task.Delay(TimeSpan.FromSeconds(GraceSeconds + 1)); // the answered object is past the grace too, and swept over

        Assert.Equal(answered.Storage.ObjectName, Assert.Single(await NamesAsync(storage)));
    }

    [Fact]
    public async Task Two_instances_sweeping_at_once_delete_each_orphan_once_and_no_live_object()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, instances: 2, settings: Settings(), storage: storage);
        var session = await Uploads.NewSessionAsync(api);
        var live = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            var answer = await Uploads.PostCreatedAsync(api.Client,
                Uploads.Multipart(Uploads.Fields(session.Id, "video"), Uploads.RandomBytes(4096, seed: 80 + i)));
            live.Add(answer.Storage.ObjectName!);
        }

        var orphans = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            orphans.Add(await WriteAsync(storage, DateTimeOffset.UtcNow.AddDays(-(i % 2)), $"orphan-{i}.webm"));
        }

        await Task.Delay(TimeSpan.FromSeconds(GraceSeconds + 0.5));

        var calls = Enumerable.Range(0, 6).Select(i => PostSweepAsync(api.Hosts[i % 2].CreateClient(), "")).ToList();
        var answers = await Task.WhenAll(calls);

        var done = new List<JsonElement>();
        foreach (var answer in answers)
        {
            var text = await answer.Content.ReadAsStringAsync();
            if (answer.StatusCode == HttpStatusCode.OK)
            {
                done.Add(JsonDocument.Parse(text).RootElement.Clone());
                continue;
            }

            // Refused only because the other round held the lock.
            var (status, type, _) = await Studies.ProblemAsync(answer);
            Assert.Equal((HttpStatusCode.Conflict, "/problems/sweep-running"), (status, type));
        }

        Assert.NotEmpty(done);
        Assert.Equal(orphans.Count, done.Sum(r => r.GetProperty("deleted").GetInt32()));
        Assert.Equal(orphans.Count, done.Sum(r => r.GetProperty("orphans").GetInt32())); // no two rounds counted one orphan
        Assert.Equal(Sorted(live), await NamesAsync(storage));
    }

    [Fact]
    public async Task While_another_instance_holds_the_sweep_lock_the_route_answers_409_and_sweeps_after()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, settings: Settings(), storage: storage);
        var orphan = await WriteAsync(storage, DateTimeOffset.UtcNow, "killed.webm");
        await Task.Delay(TimeSpan.FromSeconds(GraceSeconds + 0.5));

        await using (var other = new NpgsqlConnection(api.ConnectionString))
        {
            await other.OpenAsync();
            await using var take = new NpgsqlCommand($"SELECT pg_try_advisory_lock({OrphanObjectSweep.LockKey})", other);
            Assert.True((bool)(await take.ExecuteScalarAsync())!);

            using var refused = await PostSweepAsync(api.Client, "");
            var (status, type, _) = await Studies.ProblemAsync(refused);
            Assert.Equal((HttpStatusCode.Conflict, "/problems/sweep-running"), (status, type));
            Assert.Contains(orphan, await NamesAsync(storage));
            // The other round ends (a pooled connection would keep a session lock while it idles: it is given back).
            await using var give = new NpgsqlCommand($"SELECT pg_advisory_unlock({OrphanObjectSweep.LockKey})", other);
            Assert.True((bool)(await give.ExecuteScalarAsync())!);
        }

        Assert.Equal((1, 1, 1, 2, false), Counts(await SweepAsync(api.Client, "")));
        Assert.Empty(await NamesAsync(storage));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("367")]
    [InlineData("-1")]
    [InlineData("two")]
    public async Task A_bad_days_is_400_with_errors_days_and_deletes_nothing(string days)
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, settings: Settings(), storage: storage);
        var orphan = await WriteAsync(storage, DateTimeOffset.UtcNow, "killed.webm");
        await Task.Delay(TimeSpan.FromSeconds(GraceSeconds + 0.5));

        using var response = await PostSweepAsync(api.Client, "?days=" + Uri.EscapeDataString(days));

        var (status, type, problem) = await Studies.ProblemAsync(response);
        Assert.Equal((HttpStatusCode.BadRequest, "/problems/validation"), (status, type));
        Assert.Equal("days must be a whole number between 1 and 366.", problem.GetProperty("errors").GetProperty("days")[0].GetString());
        Assert.Equal(orphan, Assert.Single(await NamesAsync(storage)));
    }

    [Fact]
    public async Task No_admin_key_is_401_and_no_storage_configured_is_409_saying_so()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);

        using var noKey = await api.Client.PostAsync(SweepPath, content: null);
        using var noStorage = await PostSweepAsync(api.Client, "");

        var (status, type, _) = await Studies.ProblemAsync(noKey);
        Assert.Equal((HttpStatusCode.Unauthorized, "/problems/unauthorized"), (status, type));
        var (storageStatus, storageType, problem) = await Studies.ProblemAsync(noStorage);
        Assert.Equal((HttpStatusCode.Conflict, "/problems/storage-not-configured"), (storageStatus, storageType));
        Assert.Contains("No storage is configured", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> ScalarAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static Dictionary<string, string?> Settings() => new(AdminTests.WithAdminKey)
    {
        ["MindJourney:Storage:OrphanSweepGraceSeconds"] = GraceSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>An object only a pending delivery names: the delivery of an answer already stored is pointed at another
    /// name (not due for a day, so no worker takes it) and the object written there, as a worker's attempt leaves it.</summary>
    private static async Task<(string Answer, string Pending)> PendingDeliveryObjectAsync(TestApi api, TestStorage storage,
        Guid sessionId)
    {
        var answer = await Uploads.PostTextAsync(api.Client, sessionId, "its delivery is pending");
        await Uploads.WaitUntilStoredAsync(api, answer.Id);
        var name = ObjectNames.For(sessionId, "text", DateTimeOffset.UtcNow, "pending-" + ObjectNames.TextFileName);
        await api.ExecuteAsync($"""
            INSERT INTO storage_deliveries (response_id, object_name, content_type, size_bytes, md5_hash, original_name,
                                            uploaded_at, attempts, next_attempt_at, created_at, from_answer_text)
            VALUES ('{answer.Id}', '{name}', 'text/plain', 1, '', '', now(), 1, now() + interval '1 day', now(), TRUE)
            """);
        await WriteObjectAsync(storage, name);
        return (answer.Storage.ObjectName!, name);
    }

    /// <summary>An object under <paramref name="day"/>'s folder that no row names, as an API killed between its
    /// object and its row leaves it.</summary>
    private static async Task<string> WriteAsync(TestStorage storage, DateTimeOffset day, string fileName)
    {
        var name = ObjectNames.For(Guid.NewGuid(), "video", day, fileName);
        await WriteObjectAsync(storage, name);
        return name;
    }

    private static async Task WriteObjectAsync(TestStorage storage, string name)
    {
        using var content = new MemoryStream(Encoding.UTF8.GetBytes(name));
        await storage.Client.UploadObjectAsync(TestStorage.Bucket, name, "application/octet-stream", content);
    }

    private static List<string> Sorted(IEnumerable<string> names) => [.. names.Order(StringComparer.Ordinal)];

    private static async Task<List<string>> NamesAsync(TestStorage storage) =>
        [.. (await storage.ListAsync(ObjectNames.Prefix + "/")).Select(o => o.Name).Order(StringComparer.Ordinal)];

    private static (int Listed, int Orphans, int Deleted, int Days, bool DryRun) Counts(JsonElement result) => (
        result.GetProperty("listed").GetInt32(), result.GetProperty("orphans").GetInt32(), result.GetProperty("deleted").GetInt32(),
        result.GetProperty("days").GetInt32(), result.GetProperty("dryRun").GetBoolean());

    private static async Task<JsonElement> SweepAsync(HttpClient client, string query)
    {
        using var response = await PostSweepAsync(client, query);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<HttpResponseMessage> PostSweepAsync(HttpClient client, string query)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, SweepPath + query);
        request.Headers.Add("X-Admin-Key", AdminTests.AdminKey);
        return await client.SendAsync(request);
    }
}
