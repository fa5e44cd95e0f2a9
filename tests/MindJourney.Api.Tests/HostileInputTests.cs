using System.Diagnostics.Metrics;
using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using MindJourney.Api.Storage;
using MindJourney.Api.Telemetry;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>What anyone with the public link can send, as oddly as they like, to every participant route. Each
/// request gets a 4xx ProblemDetails, writes nothing (no row, no sequence value), is logged once as refused, and
/// never looks like a numbering failure (no error log, no fallback).</summary>
[Collection(PostgresCollection.Name)]
public sealed class HostileInputTests(HostileInputTests.Api api) : IClassFixture<HostileInputTests.Api>
{
    private const string NumberingFailureLine = "Error creating session with visitor number";

    private static readonly Dictionary<string, Hostile> Catalogue = BuildCatalogue();

    private readonly TestApi _api = api.Host;
    private readonly Ids _ids = api.Ids;
    private readonly FakeLogCollector _logs = api.Logs;

    public static TheoryData<string> Cases => new(Catalogue.Keys);

    /// <summary>One API for the whole catalogue (every case asserts that it changed nothing), with its logs
    /// captured and its fallback counter listened to.</summary>
    public sealed class Api(PostgresServer postgres) : IAsyncLifetime
    {
        private MeterListener? _listener;
        private long _fallbacks;

        public TestApi Host { get; private set; } = null!;

        public Ids Ids { get; private set; }

        public FakeLogCollector Logs { get; } = new();

        public long Fallbacks => Interlocked.Read(ref _fallbacks);

        public async ValueTask InitializeAsync()
        {
            Host = await TestApi.StartAsync(postgres);
            var experimentId = await Host.ActiveExperimentIdAsync();
            var session = await SessionNumberingTests.CreateSessionAsync(Host.Client, new { experimentId });
            var sessionId = session.Id;
            var response = await Uploads.PostTextAsync(Host.Client, sessionId, "a first answer");
            Ids = new Ids(experimentId, sessionId, response.Id, session.SessionSecret!);

            var services = Host.Hosts[0].Services;
            services.GetRequiredService<ILoggerFactory>().AddProvider(new FakeLoggerProvider(Logs));
            var fallbacks = services.GetRequiredService<VisitorNumberingTelemetry>().Fallbacks;
            _listener = new MeterListener
            {
                InstrumentPublished = (instrument, listener) =>
                {
                    if (ReferenceEquals(instrument, fallbacks))
                    {
                        listener.EnableMeasurementEvents(instrument);
                    }
                },
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _fallbacks, value));
            _listener.Start();
        }

        public async ValueTask DisposeAsync()
        {
            _listener?.Dispose();
            await Host.DisposeAsync();
        }
    }

    [Fact]
    public void The_catalogue_holds_at_least_sixty_hostile_inputs_with_readable_names()
    {
        Assert.True(Catalogue.Count >= 60, $"{Catalogue.Count} cases");
        Assert.All(Catalogue.Keys, name => Assert.True(name.Length <= 50, $"'{name}' is cut short in test listings"));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_hostile_request_gets_4xx_problem_details_and_changes_nothing(string name)
    {
        var hostile = Catalogue[name];
        var before = await SnapshotAsync();
        var fallbacksBefore = api.Fallbacks;
        _logs.Clear();

        using var request = hostile.ToRequest(_ids);
        using var response = await _api.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        var status = (int)response.StatusCode;
        Assert.True(status is >= 400 and < 500, $"{name}: got {status} {text}");
        if (hostile.RefusedByKestrel)
        {
            // Kestrel refuses the request line itself (a NUL in the path) before any middleware runs: a bare 400
            // that closes the connection. Nothing of the API ran, so nothing else can have happened.
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }
        else
        {
            Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json",
                $"{name}: {status} with '{response.Content.Headers.ContentType}' {text}");
            var problem = JsonDocument.Parse(text).RootElement;
            Assert.Equal(status, problem.GetProperty("status").GetInt32());
            Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()), text);
            Assert.True(problem.TryGetProperty("detail", out var detail) && !string.IsNullOrWhiteSpace(detail.GetString()), text);

            // Logged once, as refused, by the one place that logs refusals (after the response went out).
            await WaitForAsync(() => _logs.GetSnapshot().Any(IsRefusal));
            Assert.Single(_logs.GetSnapshot(), IsRefusal);
        }

        Assert.Equal(before, await SnapshotAsync());
        Assert.Equal(fallbacksBefore, api.Fallbacks);
        var logs = _logs.GetSnapshot();
        Assert.DoesNotContain(logs, l => l.Message.Contains(NumberingFailureLine, StringComparison.Ordinal));
        Assert.True(!logs.Any(l => l.Level >= LogLevel.Error),
            $"{name}: {string.Join(" | ", logs.Where(l => l.Level >= LogLevel.Error).Select(l => $"{l.Category}: {l.Message}"))}");
    }

    private static bool IsRefusal(FakeLogRecord record) => record.Message.StartsWith("Refused ", StringComparison.Ordinal);

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task The_numbers_and_answers_that_a_javascript_client_sends_are_still_stored()
    {
        var accepted = new[]
        {
            $$$"""{"experimentId":"{{{_ids.Experiment}}}","sessionData":""" +
                """{"n":[1.7976931348623157e308,5e-324,-0,1e21,123456789012345680000]}}""",
            $$$"""{"experimentId":"{{{_ids.Experiment}}}","branchingPath":"A→B 😀 ","sessionData":{{{Nest(32)}}}}""",
        };
        foreach (var body in accepted)
        {
            using var response = await _api.Client.PostAsync("/api/session", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.True(response.StatusCode == HttpStatusCode.Created,
                $"{body}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        var deepText = JsonSerializer.Serialize(Nest(32));
        var answer = $$$"""{"sessionId":"{{{_ids.Session}}}","levelId":"1","questionId":"q1","responseType":"email","responseData":""" +
            $$$"""{{{deepText}}}}""";
        using (var created = await _api.Client.PostAsync("/api/response", new StringContent(answer, Encoding.UTF8, "application/json")))
        {
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        }

        using var list = await _api.Client.GetAsync($"/api/session/{_ids.Session}/responses", _ids.Secret);
        Assert.True(list.StatusCode == HttpStatusCode.OK, await list.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_file_name_cut_inside_an_emoji_keeps_whole_characters()
    {
        // The stored original name is cut at its limit: cutting between the halves of an emoji left a lone
        // surrogate, which PostgreSQL text cannot hold (a 500 after the upload was read).
        var name = new string('a', ObjectNames.MaxOriginalNameLength - 1) + "\U0001F600.webm";
        var content = Uploads.Multipart(Uploads.Fields(_ids.Session, "video"), Uploads.RandomBytes(64, 1), "video/webm",
            $"name=\"file\"; filename*=UTF-8''{Uri.EscapeDataString(name)}");

        var created = await Uploads.PostCreatedAsync(_api.Client, content);

        var stored = await _api.ScalarAsync<string>(
            $"SELECT original_name FROM storage_deliveries WHERE response_id = '{created.Id}'");
        Assert.Equal(new string('a', ObjectNames.MaxOriginalNameLength - 1), stored);
    }

    private Task<string> SnapshotAsync() => _api.ScalarAsync<string>("""
        SELECT (SELECT count(*) FROM users) || '/' || (SELECT count(*) FROM experiment_sessions) || '/' ||
               (SELECT count(*) FROM experiment_responses) || '/' || (SELECT count(*) FROM storage_deliveries) || '/' ||
               (SELECT last_value || ':' || is_called FROM visitor_counter_sequence) || '/' ||
               (SELECT md5(string_agg(row_to_json(s)::text, ',' ORDER BY id)) FROM experiment_sessions s)
        """);

    private static string Nest(int depth) => string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);

    private static string Arrays(int depth) => new string('[', depth) + new string(']', depth);

    /// <summary>The catalogue: a readable name per hostile request. Bodies are templates in which EXPERIMENT,
    /// SESSION and RESPONSE become the test's ids and &lt;XX&gt; becomes the raw byte 0xXX (for invalid UTF-8).</summary>
    private static Dictionary<string, Hostile> BuildCatalogue()
    {
        var cases = new Dictionary<string, Hostile>(StringComparer.Ordinal);
        void Add(string name, Hostile hostile) => cases.Add(name, hostile);

        const string Start = "start: ";
        Hostile StartWith(string fields) => Post("/api/session", "{\"experimentId\":\"EXPERIMENT\"," + fields + "}");
        Add(Start + "NUL in branchingPath", StartWith("\"branchingPath\":\"a\\u0000b\""));
        Add(Start + "lone high surrogate in branchingPath", StartWith("\"branchingPath\":\"\\ud800\""));
        Add(Start + "lone low surrogate in branchingPath", StartWith("\"branchingPath\":\"x\\udc00y\""));
        Add(Start + "reversed surrogate pair in branchingPath", StartWith("\"branchingPath\":\"\\ude00\\ud83d\""));
        Add(Start + "raw invalid UTF-8 in branchingPath", StartWith("\"branchingPath\":\"a<C3><28>b\""));
        Add(Start + "UTF-8-encoded surrogate in branchingPath", StartWith("\"branchingPath\":\"<ED><A0><80>\""));
        Add(Start + "raw NUL byte in branchingPath", StartWith("\"branchingPath\":\"a<00>b\""));
        Add(Start + "NUL in a sessionData value", StartWith("\"sessionData\":{\"note\":\"\\u0000\"}"));
        Add(Start + "NUL in a sessionData key", StartWith("\"sessionData\":{\"a\\u0000\":1}"));
        Add(Start + "lone surrogate in sessionData", StartWith("\"sessionData\":[\"\\ud800\"]"));
        Add(Start + "lone surrogate in a sessionData key", StartWith("\"sessionData\":{\"\\udfff\":true}"));
        Add(Start + "raw invalid UTF-8 in sessionData", StartWith("\"sessionData\":{\"k\":\"<FF><FE>\"}"));
        Add(Start + "sessionData number 1e1000000", StartWith("\"sessionData\":{\"n\":1e1000000}"));
        Add(Start + "sessionData number -1e1000000", StartWith("\"sessionData\":[-1e1000000]"));
        Add(Start + "sessionData number 1e-1000000", StartWith("\"sessionData\":1e-1000000"));
        Add(Start + "sessionData number 1e400", StartWith("\"sessionData\":1e400"));
        Add(Start + "sessionData number of 3000 digits", StartWith("\"sessionData\":" + new string('9', 3000)));
        Add(Start + "sessionData number with 20000 decimals", StartWith("\"sessionData\":1." + new string('0', 20000) + "1"));
        Add(Start + "sessionData nested 33 deep", StartWith("\"sessionData\":" + Nest(33)));
        Add(Start + "sessionData nested 63 deep", StartWith("\"sessionData\":" + Arrays(63)));
        Add(Start + "sessionData nested 5000 deep", StartWith("\"sessionData\":" + Arrays(5000)));
        Add(Start + "branchingPath twice, the last with NUL", StartWith("\"branchingPath\":\"a\",\"branchingPath\":\"\\u0000\""));
        Add(Start + "currentLevel 1e1000000", StartWith("\"currentLevel\":1e1000000"));
        Add(Start + "currentLevel past int", StartWith("\"currentLevel\":2147483648"));
        Add(Start + "userId holding NUL", StartWith("\"userId\":\"\\u0000\""));
        Add(Start + "experimentId holding NUL", Post("/api/session", "{\"experimentId\":\"\\u0000\"}"));
        Add(Start + "body is a JSON array", Post("/api/session", "[{\"experimentId\":\"EXPERIMENT\"}]"));
        Add(Start + "UTF-16 body labelled UTF-8", Post("/api/session", "{\"experimentId\":\"EXPERIMENT\"}") with
        {
            Encoding = new UnicodeEncoding(bigEndian: false, byteOrderMark: false)
        });
        Add(Start + "UTF-16 body with a BOM, unlabelled", Post("/api/session", "{\"experimentId\":\"EXPERIMENT\"}") with
        {
            Encoding = new UnicodeEncoding(bigEndian: false, byteOrderMark: true),
        });
        Add(Start + "UTF-8 BOM before NUL in branchingPath",
            Post("/api/session", "<EF><BB><BF>{\"experimentId\":\"EXPERIMENT\",\"branchingPath\":\"\\u0000\"}"));
        Add(Start + "charset that does not exist",
            Post("/api/session", "{\"experimentId\":\"EXPERIMENT\"}", "application/json; charset=klingon"));
        Add(Start + "gzip Content-Encoding, not accepted", Post("/api/session", "{\"experimentId\":\"EXPERIMENT\"}") with { Gzip = true });
        Add(Start + "no Content-Type", Post("/api/session", "{\"experimentId\":\"EXPERIMENT\"}", contentType: null));
        Add(Start + "two Content-Types", Post("/api/session", "{\"experimentId\":\"EXPERIMENT\"}", "application/json, text/plain"));
        Add(Start + "Content-Type with bogus parameters",
            Post("/api/session", "{\"experimentId\":\"EXPERIMENT\"}", "application/json;;;=;charset"));
        Add(Start + "Idempotency-Key with a control character",
            Post("/api/session", "{\"experimentId\":\"EXPERIMENT\"}").WithHeader("Idempotency-Key", "key\u0001one"));
        Add(Start + "Idempotency-Key of 5000 characters",
            Post("/api/session", "{\"experimentId\":\"EXPERIMENT\"}").WithHeader("Idempotency-Key", new string('k', 5000)));
        Add(Start + "two Idempotency-Key values", Post("/api/session", "{\"experimentId\":\"EXPERIMENT\"}")
            .WithHeader("Idempotency-Key", "first-key").WithHeader("Idempotency-Key", "second-key"));
        Add(Start + "forged X-Forwarded-For, NUL in the body", StartWith("\"branchingPath\":\"\\u0000\"")
            .WithHeader("X-Forwarded-For", "203.0.113.7, 10.0.0.1").WithHeader("X-Forwarded-Host", "evil.example"));
        Add(Start + "query string holding NUL, no body", new Hostile("POST", "/api/session?experimentId=EXPERIMENT&x=%00"));
        Add(Start + "body of 2 MiB whitespace", Post("/api/session", new string(' ', 2 * 1024 * 1024) + "{}"));

        const string Patch = "patch: ";
        Hostile PatchWith(string body) => new("PATCH", "/api/session/SESSION", body, "application/json");
        Add(Patch + "NUL in branchingPath", PatchWith("{\"branchingPath\":\"\\u0000\"}"));
        Add(Patch + "lone surrogate in branchingPath", PatchWith("{\"branchingPath\":\"\\udbff\"}"));
        Add(Patch + "raw invalid UTF-8 in branchingPath", PatchWith("{\"branchingPath\":\"<C0><AF>\"}"));
        Add(Patch + "NUL in sessionData", PatchWith("{\"sessionData\":{\"x\":\"\\u0000\"}}"));
        Add(Patch + "lone surrogate in sessionData", PatchWith("{\"sessionData\":\"\\ud800\"}"));
        Add(Patch + "sessionData number 1e1000000", PatchWith("{\"sessionData\":1e1000000}"));
        Add(Patch + "sessionData nested 63 deep", PatchWith("{\"sessionData\":" + Arrays(63) + "}"));
        Add(Patch + "valid level with NUL in sessionData", PatchWith("{\"currentLevel\":2,\"sessionData\":[\"\\u0000\"]}"));
        Add(Patch + "text/plain body", new Hostile("PATCH", "/api/session/SESSION", "{\"currentLevel\":2}", "text/plain"));
        Add(Patch + "id not a uuid", new Hostile("PATCH", "/api/session/not-a-uuid", "{\"currentLevel\":2}", "application/json"));
        Add(Patch + "id with a percent-encoded NUL",
            new Hostile("PATCH", "/api/session/SESSION%00", "{\"currentLevel\":2}", "application/json"));
        Add(Patch + "id of 4000 characters",
            new Hostile("PATCH", "/api/session/" + new string('a', 4000), "{\"currentLevel\":2}", "application/json"));

        const string Read = "session: ";
        Add(Read + "id not a uuid", Get("/api/session/not-a-uuid"));
        Add(Read + "id is a percent-encoded NUL", Get("/api/session/%00"));
        Add(Read + "id followed by a percent-encoded NUL", Get("/api/session/SESSION%00"));
        Add(Read + "id of 4000 characters", Get("/api/session/" + new string('f', 4000)));
        Add(Read + "unknown id with a hostile query string", Get("/api/session/00000000-0000-0000-0000-00000000beef?id=SESSION&x=%00%ff"));
        Add(Read + "responses of an id not a uuid", Get("/api/session/%ED%A0%80/responses"));
        Add(Read + "responses of an unknown id", Get("/api/session/00000000-0000-0000-0000-00000000beef/responses"));
        // A withdrawal takes the session's own secret: a forged one is the 404 of a session that does not exist.
        Add(Read + "DELETE a session with a forged secret", new Hostile("DELETE", "/api/session/SESSION")
            .WithHeader(SessionSecretRequests.Header, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
        Add(Read + "secret with a control character",
            Get("/api/session/SESSION").WithHeader(SessionSecretRequests.Header, "AAAA\u0001AAAA"));
        Add(Read + "secret of 5000 characters",
            Get("/api/session/SESSION").WithHeader(SessionSecretRequests.Header, new string('A', 5000)));
        Add(Read + "two secret values", Get("/api/session/SESSION/responses")
            .WithHeader(SessionSecretRequests.Header, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .WithHeader(SessionSecretRequests.Header, "B"));
        Add(Read + "secret that is not base64url", Get("/api/download/RESPONSE").WithHeader(SessionSecretRequests.Header, "%%%%"));
        Add(Patch + "well-formed secret of no session", PatchWith("{\"currentLevel\":2}")
            .WithHeader(SessionSecretRequests.Header, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));

        const string Answer = "answer: ";
        Hostile AnswerWith(string levelId = "\"1\"", string questionId = "\"q1\"",
            string responseType = "\"text\"", string responseData = "\"hi\"") =>
            Post("/api/response", $"{{\"sessionId\":\"SESSION\",\"levelId\":{levelId},\"questionId\":{questionId}," +
                $"\"responseType\":{responseType},\"responseData\":{responseData}}}");
        Add(Answer + "NUL in levelId", AnswerWith(levelId: "\"1\\u0000\""));
        Add(Answer + "NUL in questionId", AnswerWith(questionId: "\"\\u0000\""));
        Add(Answer + "lone surrogate in questionId", AnswerWith(questionId: "\"q\\ud800\""));
        Add(Answer + "raw invalid UTF-8 in levelId", AnswerWith(levelId: "\"<F8><88><80><80><80>\""));
        Add(Answer + "NUL in responseType", AnswerWith(responseType: "\"text\\u0000\""));
        Add(Answer + "sessionId holding NUL",
            Post("/api/response", "{\"sessionId\":\"\\u0000\",\"levelId\":\"1\",\"questionId\":\"q\",\"responseType\":\"text\"}"));
        Add(Answer + "NUL in a plain text answer", AnswerWith(responseData: "\"my answer\\u0000\""));
        Add(Answer + "lone surrogate in a plain text answer", AnswerWith(responseData: "\"\\udc00\""));
        Add(Answer + "NUL in an email answer", AnswerWith(responseType: "\"email\"", responseData: "\"a\\u0000@b.c\""));
        Add(Answer + "NUL in a responseData object", AnswerWith(responseData: "{\"text\":\"x\",\"meta\":\"\\u0000\"}"));
        Add(Answer + "NUL in a responseData property name", AnswerWith(responseType: "\"email\"", responseData: "{\"\\u0000\":1}"));
        Add(Answer + "string of JSON with NUL", AnswerWith(responseData: "\"{\\\"a\\\":\\\"\\\\u0000\\\"}\""));
        Add(Answer + "string of JSON with a lone surrogate", AnswerWith(responseData: "\"[\\\"\\\\ud800\\\"]\""));
        Add(Answer + "responseData number 1e1000000", AnswerWith(responseType: "\"email\"", responseData: "1e1000000"));
        Add(Answer + "string holding number 1e1000000", AnswerWith(responseType: "\"email\"", responseData: "\"1e1000000\""));
        Add(Answer + "string holding number -1e-1000000", AnswerWith(responseType: "\"email\"", responseData: "\"[-1e-1000000]\""));
        Add(Answer + "responseData nested 33 deep", AnswerWith(responseType: "\"email\"", responseData: Nest(33)));
        Add(Answer + "responseData nested 63 deep", AnswerWith(responseType: "\"email\"", responseData: Arrays(63)));
        Add(Answer + "string of JSON nested 33 deep",
            AnswerWith(responseType: "\"email\"", responseData: JsonSerializer.Serialize(Nest(33))));
        Add(Answer + "string of JSON nested 63 deep", AnswerWith(responseData: JsonSerializer.Serialize(Arrays(63))));
        Add(Answer + "string of JSON nested 10000 deep",
            AnswerWith(responseType: "\"email\"", responseData: JsonSerializer.Serialize(Arrays(10000))));
        Add(Answer + "raw invalid UTF-8 in responseData", AnswerWith(responseData: "\"<80><80>\""));
        Add(Answer + "charset that does not exist", Post("/api/response", "{}", "application/json; charset=x-unknown-0"));
        Add(Answer + "gzip Content-Encoding", AnswerWith() with { Gzip = true });
        Add(Answer + "UTF-16 body labelled UTF-8", AnswerWith() with
        {
            Encoding = new UnicodeEncoding(bigEndian: true, byteOrderMark: false)
        });

        const string Form = "form: ";
        Add(Form + "NUL in levelId", Multipart(Field("levelId", "1<00>")));
        Add(Form + "NUL in questionId", Multipart(Field("questionId", "<00>")));
        Add(Form + "NUL in responseData", Multipart(Field("responseData", "before<00>after")));
        Add(Form + "invalid UTF-8 in levelId", Multipart(Field("levelId", "<C3>")));
        Add(Form + "UTF-8-encoded surrogate in responseData", Multipart(Field("responseData", "<ED><B0><80>")));
        Add(Form + "responseData of JSON with NUL", Multipart(Field("responseData", "{\"a\":\"\\u0000\"}")));
        Add(Form + "responseData of number 1e1000000", Multipart(Field("responseData", "{\"n\":1e1000000}")));
        Add(Form + "responseData of JSON nested 63 deep", Multipart(Field("responseData", Arrays(63))));
        Add(Form + "a field twice, the second with NUL", Multipart(Field("levelId", "1") + Field("levelId", "<00>")));
        Add(Form + "NUL in a part's field name", Multipart(Field("level<00>Id", "1")));
        Add(Form + "NUL in a part's header line", MultipartRaw(StandardFields() +
            "--BOUNDARY\r\nContent-Disposition: form-data; name=\"responseData\"\r\nX-Note: a<00>b\r\n\r\nhi\r\n--BOUNDARY--\r\n"));
        Add(Form + "field name cut inside an emoji in the detail", Multipart(Field(new string('n', 39) + "\U0001F600", "<C3>")));
        Add(Form + "field name of 100000 characters", Multipart(Field(new string('n', 100_000), "x")));
        Add(Form + "part header of 64 KiB", MultipartRaw(StandardFields() +
            "--BOUNDARY\r\nContent-Disposition: form-data; name=\"x\"\r\nX-Pad: " +
            new string('p', 64 * 1024) + "\r\n\r\nx\r\n--BOUNDARY--\r\n"));
        Add(Form + "part without Content-Disposition", MultipartRaw(StandardFields() +
            "--BOUNDARY\r\nContent-Type: text/plain\r\n\r\nx\r\n--BOUNDARY--\r\n"));
        Add(Form + "attachment instead of form-data", MultipartRaw(StandardFields() +
            "--BOUNDARY\r\nContent-Disposition: attachment; name=\"responseData\"\r\n\r\nx\r\n--BOUNDARY--\r\n"));
        Add(Form + "no closing boundary", MultipartRaw(StandardFields().TrimEnd()));
        Add(Form + "body that never opens the boundary", MultipartRaw("hello, no parts here"));
        Add(Form + "empty boundary", MultipartRaw(StandardFields() + "--BOUNDARY--\r\n", "multipart/form-data; boundary=\"\""));
        Add(Form + "boundary of 71 characters", MultipartRaw(StandardFields() + "--BOUNDARY--\r\n",
            "multipart/form-data; boundary=" + new string('b', 71)));
        Add(Form + "boundary that differs from the body's", MultipartRaw(StandardFields() + "--BOUNDARY--\r\n",
            "multipart/form-data; boundary=other"));
        Add(Form + "boundary holding a control character", MultipartRaw(StandardFields() + "--BOUNDARY--\r\n",
            "multipart/form-data; boundary=\"a\u0001b\""));
        Add(Form + "NUL in a file name and in levelId", Multipart(Field("levelId", "<00>") +
            "--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a<00>.webm\"\r\n" +
            "Content-Type: video/webm\r\n\r\nxx\r\n", responseType: "video"));
        Add(Form + "10000 empty parts and no sessionId", MultipartRaw(string.Concat(Enumerable.Repeat(
            "--BOUNDARY\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n\r\n", 10_000)) + "--BOUNDARY--\r\n"));

        const string Download = "download: ";
        Add(Download + "id not a uuid", Get("/api/download/not-a-uuid"));
        Add(Download + "id is a percent-encoded NUL", Get("/api/download/%00"));
        Add(Download + "unknown id", Get("/api/download/00000000-0000-0000-0000-00000000beef"));
        Add(Download + "response id followed by ../", Get("/api/download/RESPONSE%2F..%2F..%2Fetc%2Fpasswd"));
        Add(Download + "id of 4000 characters", Get("/api/download/" + new string('0', 4000)));

        const string Experiment = "experiment: ";
        Add(Experiment + "levels of an id not a uuid", Get("/api/experiment/not-a-uuid/levels"));
        Add(Experiment + "levels of a percent-encoded NUL", Get("/api/experiment/%00/levels"));
        Add(Experiment + "levels of an unknown id", Get("/api/experiment/00000000-0000-0000-0000-00000000beef/levels?x=%00"));
        Add(Experiment + "levels of an id of 4000 characters", Get("/api/experiment/" + new string('e', 4000) + "/levels"));
        Add(Experiment + "POST with a NUL body", Post("/api/experiment", "{\"title\":\"\\u0000\"}"));
        Add(Experiment + "DELETE", new Hostile("DELETE", "/api/experiment"));
        Add(Experiment + "unknown route under /api", Get("/api/experiment/EXPERIMENT/levels/%00"));

        return cases;
    }

    private static Hostile Get(string path) => new("GET", path);

    private static Hostile Post(string path, string body, string? contentType = "application/json") => new("POST", path, body, contentType);

    private static string Field(string name, string value) =>
        $"--BOUNDARY\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n";

    private static string StandardFields(string responseType = "text") =>
        Field("sessionId", "SESSION") + Field("levelId", "3") + Field("questionId", "q4") + Field("responseType", responseType);

    /// <summary>A text answer's form with <paramref name="parts"/> replacing the standard field of the same name.</summary>
    private static Hostile Multipart(string parts, string responseType = "text")
    {
        var names = new[] { "sessionId", "levelId", "questionId", "responseType" };
        var standard = string.Concat(names
            .Where(n => !parts.Contains($"name=\"{n}\"", StringComparison.Ordinal))
            .Select(n => Field(n, n switch { "sessionId" => "SESSION", "levelId" => "3", "questionId" => "q4", _ => responseType })));
        return MultipartRaw(standard + parts + "--BOUNDARY--\r\n");
    }

    private static Hostile MultipartRaw(string body, string contentType = "multipart/form-data; boundary=BOUNDARY") =>
        new("POST", "/api/response", body, contentType);

    /// <summary>The test's own session, answer and the session's secret (sent with every hostile request unless the
    /// case forges its own, so that the session routes' handlers, not only their access check, meet the input).</summary>
    public readonly record struct Ids(Guid Experiment, Guid Session, Guid Response, string Secret);

    /// <summary>One hostile request: its body template (see <see cref="BuildCatalogue"/>), sent as given.</summary>
    private sealed record Hostile(string Method, string Path, string? Body = null, string? ContentType = null)
    {
        public List<KeyValuePair<string, string>> Headers { get; init; } = [];

        /// <summary>The body's encoding before raw bytes are put in (UTF-8 unless a case says otherwise).</summary>
        public Encoding Encoding { get; init; } = new UTF8Encoding(false);

        public bool Gzip { get; init; }

        /// <summary>A NUL in the path: Kestrel refuses the request line before the API sees it.</summary>
        public bool RefusedByKestrel => Path.Split('?')[0].Contains("%00", StringComparison.Ordinal);

        public Hostile WithHeader(string name, string value) => this with { Headers = [.. Headers, new(name, value)] };

        public HttpRequestMessage ToRequest(Ids ids)
        {
            var request = new HttpRequestMessage(new HttpMethod(Method), Fill(Path, ids));
            foreach (var (name, value) in Headers)
            {
                Assert.True(request.Headers.TryAddWithoutValidation(name, value), name);
            }

            if (!Headers.Exists(h => h.Key == SessionSecretRequests.Header))
            {
                request.Headers.Add(SessionSecretRequests.Header, ids.Secret);
            }

            if (Body is null)
            {
                return request;
            }

            var bytes = Encode(Fill(Body, ids));
            if (Gzip)
            {
                using var zipped = new MemoryStream();
                using (var gzip = new GZipStream(zipped, CompressionLevel.Fastest))
                {
                    gzip.Write(bytes);
                }

                bytes = zipped.ToArray();
            }

            request.Content = new ByteArrayContent(bytes);
            if (ContentType is not null)
            {
                Assert.True(request.Content.Headers.TryAddWithoutValidation("Content-Type", ContentType), ContentType);
            }

            if (Gzip)
            {
                request.Content.Headers.ContentEncoding.Add("gzip");
            }

            return request;
        }

        private static string Fill(string template, Ids ids) => template
            .Replace("EXPERIMENT", ids.Experiment.ToString(), StringComparison.Ordinal)
            .Replace("SESSION", ids.Session.ToString(), StringComparison.Ordinal)
            .Replace("RESPONSE", ids.Response.ToString(), StringComparison.Ordinal);

        /// <summary>The text in <see cref="Encoding"/>, with each &lt;XX&gt; as the raw byte 0xXX.</summary>
        private byte[] Encode(string text)
        {
            using var bytes = new MemoryStream();
            var preamble = Encoding.GetPreamble();
            bytes.Write(preamble);
            var start = 0;
            for (var i = 0; i + 3 < text.Length; i++)
            {
                if (text[i] == '<' && text[i + 3] == '>'
                    && byte.TryParse(text.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var raw)
                    && char.IsAsciiHexDigitUpper(text[i + 1]) && char.IsAsciiHexDigitUpper(text[i + 2]))
                {
                    bytes.Write(Encoding.GetBytes(text[start..i]));
                    bytes.WriteByte(raw);
                    start = i + 4;
                    i += 3;
                }
            }

            bytes.Write(Encoding.GetBytes(text[start..]));
            return bytes.ToArray();
        }
    }
}
