using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>No client can starve the others: slow downloads hold no database connection, uploads queue on their
/// own small pool, and a session's quota holds even when its last slot is raced.</summary>
[Collection(PostgresCollection.Name)]
public sealed class StarvationTests(PostgresServer postgres, ITestOutputHelper output)
{
    private const int SlowReaders = 32;
    private const int Uploaders = 8;
    private const int UploadBytes = 50 * 1024 * 1024;
    private const int PlayPresses = 200;
    private const int PlayConcurrency = 2;
    private const double PlayP99BoundMs = 500;

    /// <summary>Quotas out of the way: this test is about connections, not about a session's limits.</summary>
    private static readonly Dictionary<string, string?> Unlimited = new()
    {
        ["MindJourney:Storage:MaxFilesPerSession"] = "100000",
        ["MindJourney:Storage:MaxBytesPerSession"] = long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["MindJourney:Storage:MaxUploadsInFlightPerClient"] = "64",
    };

    [Fact]
    public async Task Play_answers_fast_while_slow_readers_hold_downloads_and_clients_loop_big_uploads()
    {
        // No storage: every download streams the pending copy from the database.
        await using var api = await TestApi.StartAsync(postgres, settings: Unlimited);
        var experimentId = await api.ActiveExperimentIdAsync();
        var reader = await Uploads.NewSessionAsync(api);
        var readerSession = reader.Id;
        var file = Uploads.RandomBytes(8 * 1024 * 1024, seed: 5);
        var created = await Uploads.PostCreatedAsync(api.Client, Uploads.Multipart(Uploads.Fields(readerSession, "video"), file));
        var downloadId = created.Id;

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(50));
        var address = api.Hosts[0].ServerAddress;
        var readers = Enumerable.Range(0, SlowReaders)
            .Select(_ => SlowReader.StartAsync(address, $"/api/download/{downloadId}", reader.SessionSecret!, stop.Token))
            .ToArray();
        var holding = await Task.WhenAll(readers.Select(r => r.Headers));
        Assert.All(holding, status => Assert.StartsWith("HTTP/1.1 200", status, StringComparison.Ordinal));

        var video = Uploads.RandomBytes(UploadBytes, seed: 6);
        var uploadsDone = 0;
        var uploadFailures = new List<string>();
        var uploaders = Enumerable.Range(0, Uploaders).Select(async _ =>
        {
            var sessionId = (await Uploads.NewSessionAsync(api)).Id;
            using var client = api.Hosts[0].CreateClient();
            client.Timeout = TimeSpan.FromSeconds(60);
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var response = await client.PostAsync("/api/response", new SharedFileMultipart(sessionId, video), stop.Token);
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        Interlocked.Increment(ref uploadsDone);
                    }
                    else
                    {
                        lock (uploadFailures)
                        {
                            uploadFailures.Add($"{(int)response.StatusCode}");
                        }
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
            }
        }).ToArray();

        // Let the uploads get going (spooling, then COPY on the bulk pool) before the first press.
        await Uploads.WaitUntilAsync(async () => await CopiesRunningAsync(api) > 0, "an upload's COPY running");

        using var play = api.Hosts[0].CreateClient();
        var latencies = new List<double>();
        var statuses = new List<HttpStatusCode>();
        var next = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, PlayConcurrency).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) <= PlayPresses)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/api/session")
                {
                    Content = JsonContent.Create(new { experimentId }),
                };
                request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
                var started = Stopwatch.GetTimestamp();
                using var response = await play.SendAsync(request);
                await response.Content.ReadAsByteArrayAsync();
                var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                lock (latencies)
                {
                    latencies.Add(elapsed);
                    statuses.Add(response.StatusCode);
                }
            }
        }));
        var playSeconds = clock.Elapsed.TotalSeconds;

        var stillReading = readers.Count(r => !r.Done.IsCompleted);
        var copiesDuringPlay = Volatile.Read(ref uploadsDone);
        var copyingAfterPlay = await CopiesRunningAsync(api);

        // The load was real: every uploader got 50 MiB files through while the readers held on.
        await Uploads.WaitUntilAsync(() => Task.FromResult(Volatile.Read(ref uploadsDone) >= Uploaders), "one upload per uploader");
        var uploadSeconds = clock.Elapsed.TotalSeconds;
        await stop.CancelAsync();
        await Task.WhenAll(uploaders);
        await Task.WhenAll(readers.Select(r => r.Done));

        latencies.Sort();
        var p50 = latencies[latencies.Count / 2];
        var p99 = latencies[(int)Math.Ceiling(latencies.Count * 0.99) - 1];
        output.WriteLine($"Play: {latencies.Count} presses in {playSeconds:0.0} s, p50 {p50:0.0} ms, p99 {p99:0.0} ms, "
            + $"max {latencies[^1]:0.0} ms; "
            + $"{SlowReaders} slow readers ({stillReading} still holding); uploads of 50 MiB: {copiesDuringPlay} done during Play, "
            + $"{copyingAfterPlay} copying when it ended, {uploadsDone} done after {uploadSeconds:0.0} s; "
            + $"failures: {string.Join(",", uploadFailures)}");

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.Created, s));
        Assert.Equal(SlowReaders, stillReading);
        Assert.Empty(uploadFailures);
        // Starvation shows as 503s or seconds-long waits for a connection. What remains is two cores shared with eight
        // 50 MiB uploads: p99 measured 80-274 ms over nine runs (median 151 ms; docs/SECURITY.md), so the bound here
        // leaves room for a busy CI machine rather than fail on CPU noise.
        Assert.True(p99 < PlayP99BoundMs, $"Play p99 {p99:0.0} ms (p50 {p50:0.0} ms) under slow readers and uploads");
    }

    [Fact]
    public async Task A_session_at_its_file_quota_is_refused_the_next_file_and_nothing_is_written()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?>
        {
            ["MindJourney:Storage:MaxFilesPerSession"] = "2",
            ["MindJourney:Storage:MaxBytesPerSession"] = "100000",
        });
        var sessionId = (await Uploads.NewSessionAsync(api)).Id;
        await Uploads.PostCreatedAsync(api.Client, Photo(sessionId, 1));
        await Uploads.PostCreatedAsync(api.Client, Photo(sessionId, 2));
        var before = await CountsAsync(api);

        using (var third = await api.Client.PostAsync("/api/response",
            Uploads.Multipart(Uploads.Fields(sessionId, "photo"), Uploads.RandomBytes(1000, 3), "image/png")))
        {
            await AssertProblemAsync(third, HttpStatusCode.RequestEntityTooLarge, "files");
        }

        Assert.Equal(before, await CountsAsync(api));

        // Bytes count as well, text answers included: a text that would pass the byte quota is refused too.
        using (var text = await api.Client.PostAsJsonAsync("/api/response",
            new { sessionId, levelId = "1", questionId = "q1", responseType = "text", responseData = new string('x', 99_000) }))
        {
            await AssertProblemAsync(text, HttpStatusCode.RequestEntityTooLarge, "bytes");
        }

        Assert.Equal(before, await CountsAsync(api));
        Assert.Equal(2000, await api.ScalarAsync<long>(
            $"SELECT sum(file_size_bytes) FROM experiment_responses WHERE session_id = '{sessionId}'"));

        // Another session has its own quota.
        var other = (await Uploads.NewSessionAsync(api)).Id;
        await Uploads.PostCreatedAsync(api.Client, Photo(other, 4));
    }

    [Fact]
    public async Task Two_parallel_uploads_at_the_last_slot_do_not_both_pass()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?>
        {
            ["MindJourney:Storage:MaxFilesPerSession"] = "1",
        });

        for (var round = 0; round < 5; round++)
        {
            var sessionId = (await Uploads.NewSessionAsync(api)).Id;
            var file = Uploads.RandomBytes(2 * 1024 * 1024, round);
            using var first = api.Hosts[0].CreateClient();
            using var second = api.Hosts[0].CreateClient();
            var answers = await Task.WhenAll(
                first.PostAsync("/api/response", Uploads.Multipart(Uploads.Fields(sessionId, "video"), file)),
                second.PostAsync("/api/response", Uploads.Multipart(Uploads.Fields(sessionId, "video"), file)));

            Assert.Single(answers, a => a.StatusCode == HttpStatusCode.Created);
            Assert.Single(answers, a => a.StatusCode == HttpStatusCode.RequestEntityTooLarge);
            Assert.Equal(1, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses WHERE session_id = '{sessionId}'"));
            Assert.Equal(1, await api.ScalarAsync<long>(
                $"SELECT count(*) FROM storage_deliveries d JOIN experiment_responses r ON r.id = d.response_id "
                + $"WHERE r.session_id = '{sessionId}'"));
            foreach (var answer in answers)
            {
                answer.Dispose();
            }
        }
    }

    [Fact]
    public async Task A_session_takes_no_more_responses_than_its_cap_of_any_kind()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?>
        {
            ["MindJourney:Storage:MaxResponsesPerSession"] = "3",
        });
        var sessionId = (await Uploads.NewSessionAsync(api)).Id;

        // Eight at once race for three places: exactly three get in.
        var answers = await Task.WhenAll(Enumerable.Range(0, 8)
            .Select(i => api.Client.PostAsJsonAsync("/api/response", Email(sessionId, i))));
        Assert.Equal(3, answers.Count(a => a.StatusCode == HttpStatusCode.Created));
        foreach (var refused in answers.Where(a => a.StatusCode != HttpStatusCode.Created))
        {
            await AssertProblemAsync(refused, HttpStatusCode.Conflict, "responses");
        }

        Assert.Equal(3, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses WHERE session_id = '{sessionId}'"));
        var before = await CountsAsync(api);
        using (var upload = await api.Client.PostAsync("/api/response",
            Uploads.Multipart(Uploads.Fields(sessionId, "photo"), Uploads.RandomBytes(100, 1), "image/png")))
        {
            await AssertProblemAsync(upload, HttpStatusCode.Conflict, "responses");
        }

        Assert.Equal(before, await CountsAsync(api));
    }

    [Fact]
    public async Task Answers_refused_at_a_full_session_while_the_pool_is_queued_for_are_each_a_409()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?>
        {
            ["MindJourney:Storage:MaxResponsesPerSession"] = "1",
        });
        var sessionId = (await Uploads.NewSessionAsync(api)).Id;
        using var client = api.Client;
        client.Timeout = TimeSpan.FromSeconds(60);
        using (var first = await client.PostAsJsonAsync("/api/response", Email(sessionId, 0)))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        }

        // More refusals at once than the pool has connections: each refusal hands its connection straight to a
        // waiting request, which must not see the refused request's reader touched after that.
        var refused = await Task.WhenAll(Enumerable.Range(1, 64)
            .Select(i => client.PostAsJsonAsync("/api/response", Email(sessionId, i))));
        foreach (var answer in refused)
        {
            await AssertProblemAsync(answer, HttpStatusCode.Conflict, "responses");
            answer.Dispose();
        }

        Assert.Equal(1, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses WHERE session_id = '{sessionId}'"));
    }

    private static object Email(Guid sessionId, int i) =>
        new { sessionId, levelId = "1", questionId = $"q{i}", responseType = "email", responseData = "someone@example.org" };

    [Fact]
    public async Task A_client_with_its_uploads_in_flight_is_told_to_wait_and_others_are_not()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?>
        {
            ["MindJourney:Storage:MaxUploadsInFlightPerClient"] = "1",
        });
        var sessionId = (await Uploads.NewSessionAsync(api)).Id;

        // Every request of this test from 127.0.0.1, as the holder's: "localhost" may resolve to ::1, another client.
        using var client = new HttpClient { BaseAddress = api.Hosts[0].ServerAddress };

        // One upload whose body is still arriving holds this address's only slot (a raw socket: nothing buffers it).
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await holder.ConnectAsync(IPAddress.Loopback, api.Hosts[0].ServerAddress.Port);
        const string part = "--held\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
            + "Content-Type: image/png\r\n\r\nabc";
        await holder.SendAsync(Encoding.ASCII.GetBytes("POST /api/response HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + "Content-Type: multipart/form-data; boundary=held\r\nContent-Length: 10000000\r\n\r\n" + part));
        // A trickle above Kestrel's minimum body rate (240 B/s), so a slow machine cannot see it cut for being idle.
        using var stopTrickle = new CancellationTokenSource();
        var trickle = Task.Run(async () =>
        {
            var bytes = new byte[1024];
            Array.Fill(bytes, (byte)'a');
            try
            {
                while (!stopTrickle.IsCancellationRequested)
                {
                    await holder.SendAsync(bytes, stopTrickle.Token);
                    await Task.Delay(250, stopTrickle.Token);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // The test let go of the upload.
            }
        });
        await Uploads.WaitUntilAsync(async () =>
        {
            // An unknown session: a probe that gets through writes nothing (404).
            using var probe = await client.PostAsync("/api/response",
                Uploads.Multipart(Uploads.Fields(Guid.NewGuid(), "photo"), Uploads.RandomBytes(100, 1), "image/png"));
            return probe.StatusCode == HttpStatusCode.TooManyRequests;
        }, "the held upload to take the slot");

        using (var refused = await client.PostAsync("/api/response",
            Uploads.Multipart(Uploads.Fields(sessionId, "photo"), Uploads.RandomBytes(100, 2), "image/png")))
        {
            Assert.NotNull(refused.Headers.RetryAfter);
            await AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "uploads in progress");
        }

        Assert.Equal(0, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses WHERE session_id = '{sessionId}'"));

        // JSON answers on the same route are not uploads.
        await Uploads.PostTextAsync(client, sessionId, "fine");

        // The slot is free again once that upload ends (here: its client gives up).
        await stopTrickle.CancelAsync();
        await trickle;
        holder.Close();
        await Uploads.WaitUntilAsync(async () =>
        {
            using var probe = await client.PostAsync("/api/response",
                Uploads.Multipart(Uploads.Fields(Guid.NewGuid(), "photo"), Uploads.RandomBytes(100, 1), "image/png"));
            return probe.StatusCode == HttpStatusCode.NotFound;
        }, "the slot to be free");
        await Uploads.PostCreatedAsync(client, Photo(sessionId, 3));
    }

    internal static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string detailContains)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonSerializer.Deserialize<ProblemDetails>(text, ApiContracts.Json)!;
        Assert.Equal((int)status, problem.Status);
        Assert.Contains(detailContains, problem.Detail, StringComparison.Ordinal);
    }

    private static HttpContent Photo(Guid sessionId, int seed) =>
        Uploads.Multipart(Uploads.Fields(sessionId, "photo"), Uploads.RandomBytes(1000, seed), "image/png");

    private static Task<long> CopiesRunningAsync(TestApi api) => api.ScalarAsync<long>(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY storage_delivery_chunks%' "
        + "AND state = 'active'");

    private static async Task<(long Responses, long Deliveries, long Chunks, long Sequence)> CountsAsync(TestApi api) => (
        await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"),
        await api.ScalarAsync<long>("SELECT count(*) FROM storage_deliveries"),
        await api.ScalarAsync<long>("SELECT count(*) FROM storage_delivery_chunks"),
        await api.SequencePositionAsync());

    /// <summary>A multipart upload whose file part is one array shared by every uploader (50 MiB each would not fit
    /// eight times in a test's memory).</summary>
    private sealed class SharedFileMultipart : HttpContent
    {
        private const string Boundary = "----mindjourney-shared-file";
        private readonly byte[] _head;
        private readonly byte[] _file;
        private readonly byte[] _tail = Encoding.ASCII.GetBytes($"\r\n--{Boundary}--\r\n");

        public SharedFileMultipart(Guid sessionId, byte[] file)
        {
            var head = new StringBuilder();
            foreach (var (name, value) in Uploads.Fields(sessionId, "video"))
            {
                head.Append($"--{Boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n");
            }

            head.Append($"--{Boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.webm\"\r\n");
            head.Append("Content-Type: video/webm\r\n\r\n");
            _head = Encoding.UTF8.GetBytes(head.ToString());
            _file = file;
            Headers.ContentType = MediaTypeHeaderValue.Parse($"multipart/form-data; boundary={Boundary}");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(_head);
            await stream.WriteAsync(_file);
            await stream.WriteAsync(_tail);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _head.Length + _file.Length + _tail.Length;
            return true;
        }
    }
}

/// <summary>A client that asks for a download and then reads it at about 300 bytes a second over a raw socket with
/// a tiny receive buffer, as a phone on a bad link (or a hostile script) would.</summary>
internal sealed class SlowReader
{
    private readonly TaskCompletionSource<string> _headers = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SlowReader()
    {
    }

    /// <summary>The status line, once it arrived.</summary>
    public Task<string> Headers => _headers.Task;

    /// <summary>Ends when the server ends the body, or when the test stops reading.</summary>
    public Task Done { get; private set; } = Task.CompletedTask;

    public static SlowReader StartAsync(Uri server, string path, string sessionSecret, CancellationToken stop, int bytesPerSecond = 300)
    {
        var reader = new SlowReader();
        reader.Done = Task.Run(() => reader.RunAsync(server, path, sessionSecret, bytesPerSecond, stop));
        return reader;
    }

    private async Task RunAsync(Uri server, string path, string sessionSecret, int bytesPerSecond, CancellationToken stop)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        try
        {
            await socket.ConnectAsync(IPAddress.Loopback, server.Port, stop);
            await socket.SendAsync(Encoding.ASCII.GetBytes(
                $"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{SessionSecretRequests.Header}: {sessionSecret}\r\n\r\n"), stop);
            var buffer = new byte[bytesPerSecond / 4];
            while (!stop.IsCancellationRequested)
            {
                var read = await socket.ReceiveAsync(buffer, stop);
                if (read == 0)
                {
                    break;
                }

                _headers.TrySetResult(Encoding.ASCII.GetString(buffer, 0, read).Split("\r\n")[0]);
                await Task.Delay(250, stop);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException)
        {
        }
        finally
        {
            _headers.TrySetResult("(no answer)");
        }
    }
}
