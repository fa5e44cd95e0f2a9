using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using MindJourney.Api.Admin;
using MindJourney.Api.Export;
using MindJourney.Api.Responses;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary><c>GET /api/admin/export</c>: CSV and JSON Lines rows, the zip with its files and manifest, filters,
/// the refusals, and the action log.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ExportTests(PostgresServer postgres)
{
    private const string Header = "visitor_number,mode,condition,session_id,user_id,response_id,level_id,question_id,response_type,"
        + "text,file_object_name,file_size_bytes,file_md5,created_at,recruitment_source,recruitment_participant_id,"
        + "recruitment_study_id,recruitment_session_id";

    [Fact]
    public async Task Csv_has_a_row_per_response_and_per_session_without_one_in_number_order_with_formulas_neutralised()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var (one, two, three) = await ThreeVisitorsAsync(api);
        await InsertPilotAsync(api, 1);

        using var response = await ExportAsync(api, "format=csv");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("attachment", response.Content.Headers.ContentDisposition?.DispositionType);
        Assert.Matches(@"^mindjourney-live-\d{8}T\d{6}Z\.csv$", response.Content.Headers.ContentDisposition?.FileName?.Trim('"'));
        var text = await response.Content.ReadAsStringAsync();
        Assert.StartsWith(Header + "\r\n", text);
        var rows = ParseCsv(text);

        Assert.Equal(Header.Split(','), rows[0]);
        var data = rows.Skip(1).ToList();
        Assert.Equal(new[] { "1", "1", "2", "3" }, data.Select(r => r[0]));
        Assert.All(data, r => Assert.Equal("live", r[1]));
        Assert.Equal(new[] { "control", "control", "treatment", "control" }, data.Select(r => r[2]));
        Assert.Equal(IdOf(one), data[0][3]);
        Assert.Equal(one.UserId.ToString(), data[0][4]);
        Assert.Equal("first answer", data[0][9]);
        Assert.Equal("Second, with \"quotes\"\nand a new line", data[1][9]);
        Assert.Equal("text", data[0][8]);
        Assert.Matches($"^experiment-responses/.*/session-{IdOf(one)}/text/[0-9]+_text-response.txt$", data[0][10]);
        Assert.Equal(Encoding.UTF8.GetByteCount("first answer").ToString(CultureInfo.InvariantCulture), data[0][11]);
        Assert.Equal(Convert.ToBase64String(MD5.HashData(Encoding.UTF8.GetBytes("first answer"))), data[0][12]);
        Assert.True(DateTimeOffset.Parse(data[0][13], CultureInfo.InvariantCulture)
            <= DateTimeOffset.Parse(data[1][13], CultureInfo.InvariantCulture));

        // Visitor 2 never answered: one row, response columns empty.
        Assert.Equal(IdOf(two), data[2][3]);
        Assert.All(data[2][5..], cell => Assert.Equal("", cell));

        // Participant-controlled cells that a spreadsheet would run as a formula start with an apostrophe.
        Assert.Equal(IdOf(three), data[3][3]);
        Assert.Equal("'@SUM(A1)", data[3][6]);
        Assert.Equal("'-q1", data[3][7]);
        Assert.Equal("'=HYPERLINK(\"http://example.invalid\",\"x\")", data[3][9]);
        Assert.Contains("\"'=HYPERLINK(\"\"http://example.invalid\"\",\"\"x\"\")\"", text);
    }

    [Fact]
    public async Task Csv_quotes_every_cell_a_participant_controls_so_no_list_separator_splits_it()
    {
        // As a stranger sends it, to an API with its production limits; Excel with ';' as its list separator (German,
        // French locales) would split an unquoted x;=1+1;y and run the middle cell.
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey, productionLimits: true);
        var session = await ApiCalls.StartSessionAsync(api);
        var sessionId = session.Id;
        (string Level, string Question, string Answer)[] answers =
            [("1", "q;1", "x;=1+1;y"), ("2", "q2", "a,b"), ("3", "q3", "hello"), ("4", "q4", "=1+1")];
        foreach (var (level, question, answer) in answers)
        {
            await ApiCalls.RecordAsync(api.Client, JsonContent.Create(new
            {
                sessionId,
                levelId = level,
                questionId = question,
                responseType = "text",
                responseData = answer
            }));
        }

        await api.ExecuteAsync("UPDATE experiment_sessions SET condition = 'control'");

        using var response = await ExportAsync(api, "format=csv");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var lines = (await response.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Header, lines[0]);
        var number = session.VisitorNumber!.Value;
        string[] expected =
        [
            $"{number},live,\"control\",{sessionId},{session.UserId},",
            ",\"1\",\"q;1\",text,\"x;=1+1;y\",\"experiment-responses/",
            ",\"2\",\"q2\",text,\"a,b\",\"",
            ",\"3\",\"q3\",text,\"hello\",\"",
            ",\"4\",\"q4\",text,\"'=1+1\",\"",
        ];
        Assert.Equal(5, lines.Length);
        Assert.All(lines[1..], line => Assert.StartsWith(expected[0], line, StringComparison.Ordinal));
        for (var i = 1; i <= 4; i++)
        {
            Assert.Contains(expected[i], lines[i], StringComparison.Ordinal);
        }

        // Outside the quotes, no cell holds a ';' that a spreadsheet could split on.
        Assert.All(lines[1..], line => Assert.DoesNotContain(';', string.Concat(line.Split('"').Where((_, n) => n % 2 == 0))));
    }

    [Fact]
    public async Task Jsonl_filters_by_number_range_and_mode_and_keeps_text_as_sent()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var (_, two, three) = await ThreeVisitorsAsync(api);
        var pilot = await InsertPilotAsync(api, 2);

        using (var response = await ExportAsync(api, "format=jsonl&from=2&to=3"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType?.MediaType);
            Assert.EndsWith(".jsonl", response.Content.Headers.ContentDisposition?.FileName?.Trim('"'));
            var lines = await JsonLinesAsync(response);
            Assert.Equal(new[] { 2, 3 }, lines.Select(l => l.GetProperty("visitorNumber").GetInt32()));
            Assert.Equal(IdOf(two), lines[0].GetProperty("sessionId").GetString());
            Assert.Equal(JsonValueKind.Null, lines[0].GetProperty("responseId").ValueKind);
            Assert.Equal(JsonValueKind.Null, lines[0].GetProperty("text").ValueKind);
            Assert.Equal(JsonValueKind.Null, lines[0].GetProperty("createdAt").ValueKind);
            Assert.Equal("treatment", lines[0].GetProperty("condition").GetString());
            Assert.Equal(IdOf(three), lines[1].GetProperty("sessionId").GetString());
            Assert.Equal("=HYPERLINK(\"http://example.invalid\",\"x\")", lines[1].GetProperty("text").GetString());
            Assert.Equal("@SUM(A1)", lines[1].GetProperty("levelId").GetString());
            Assert.Equal("text", lines[1].GetProperty("responseType").GetString());
        }

        using (var response = await ExportAsync(api, "format=jsonl&mode=pilot"))
        {
            var lines = await JsonLinesAsync(response);
            var only = Assert.Single(lines);
            Assert.Equal("pilot", only.GetProperty("mode").GetString());
            Assert.Equal(pilot.ToString(), only.GetProperty("sessionId").GetString());
            Assert.Equal("pilot text", only.GetProperty("text").GetString());
        }

        using (var response = await ExportAsync(api, "format=jsonl&mode=all&to=2"))
        {
            var lines = await JsonLinesAsync(response);
            Assert.Equal(new[] { "live", "live", "live", "pilot" }, lines.Select(l => l.GetProperty("mode").GetString()));
        }
    }

    [Fact]
    public async Task Zip_holds_the_csv_then_the_files_by_visitor_and_a_manifest_that_verifies_including_pending_ones()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey, storage: storage);
        var first = await ApiCalls.StartSessionAsync(api);
        var video = Uploads.RandomBytes(300 * 1024, seed: 21);
        var stored = await ApiCalls.RecordAsync(api.Client, Uploads.Multipart(Uploads.Fields(first.Id, "video"), video));
        var text = await ApiCalls.RecordTextAsync(api.Client, first.Id, new { text = "stored words" });
        await Uploads.WaitUntilStoredAsync(api, stored.Id);
        await Uploads.WaitUntilStoredAsync(api, text.Id);

        var archive = await ZipAsync(api, "format=zip");
        Assert.Equal("responses.csv", archive.Entries[0].FullName);
        Assert.Equal("manifest.json", archive.Entries[^1].FullName);
        var videoPath = $"visitor-1/session-{IdOf(first)}/video/{FileNameOf(stored)}";
        Assert.Equal(video, Read(archive.GetEntry(videoPath)!));
        var manifest = VerifiedManifest(archive);
        Assert.Equal(3, manifest.GetProperty("files").GetArrayLength()); // the CSV, the video, the text
        Assert.DoesNotContain(manifest.GetProperty("files").EnumerateArray(), f => f.TryGetProperty("pending", out _));
        var csv = ParseCsv(Encoding.UTF8.GetString(Read(archive.GetEntry("responses.csv")!)));
        var videoRow = Assert.Single(csv, r => r[8] == "video");
        var videoFile = Assert.Single(manifest.GetProperty("files").EnumerateArray(), f => f.GetProperty("path").GetString() == videoPath);
        Assert.Equal(videoRow[12], videoFile.GetProperty("md5").GetString());
        Assert.Equal(video.Length, videoFile.GetProperty("size").GetInt64());

        // Storage goes down: visitor 2's uploads stay pending and come from the durable copy, marked so.
        await storage.StopAsync();
        var second = await ApiCalls.StartSessionAsync(api);
        var photo = Uploads.RandomBytes(50 * 1024, seed: 22);
        var pending = await ApiCalls.RecordAsync(api.Client, Uploads.Multipart(Uploads.Fields(second.Id, "photo"), photo,
            "image/png", "name=\"file\"; filename=\"drawing.png\""));
        Assert.Equal("pending", pending.Storage.Status);

        archive = await ZipAsync(api, "format=zip&from=2");
        Assert.Equal(new[] { "responses.csv", $"visitor-2/session-{IdOf(second)}/photo/{FileNameOf(pending)}", "manifest.json" },
            archive.Entries.Select(e => e.FullName));
        Assert.Equal(photo, Read(archive.Entries[1]));
        manifest = VerifiedManifest(archive);
        var pendingFile = manifest.GetProperty("files")[1];
        Assert.True(pendingFile.GetProperty("pending").GetBoolean());
        Assert.Equal(2, pendingFile.GetProperty("visitorNumber").GetInt32());
        Assert.Equal(2, manifest.GetProperty("from").GetInt32());
        Assert.Equal(0, manifest.GetProperty("missing").GetArrayLength());
    }

    [Fact]
    public async Task Export_needs_the_admin_key_refuses_bad_parameters_and_is_recorded_in_the_action_log()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        await ThreeVisitorsAsync(api);

        using (var anonymous = await api.Client.GetAsync("/api/admin/export?format=csv"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        using (var wrongKey = new HttpRequestMessage(HttpMethod.Get, "/api/admin/export?format=csv"))
        {
            wrongKey.Headers.Add(AdminKeyAuthenticationHandler.KeyHeader, "not-the-key");
            using var refused = await api.Client.SendAsync(wrongKey);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        string[] badQueries = ["format=xlsx", "format=csv&mode=demo", "format=csv&from=abc", "format=csv&from=0", "format=csv&from=3&to=2"];
        foreach (var query in badQueries)
        {
            using var bad = await ExportAsync(api, query);
            Assert.True(bad.StatusCode == HttpStatusCode.BadRequest, $"{query}: {(int)bad.StatusCode}");
            Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
            var problem = await bad.Content.ReadAsAsync<ProblemDetails>();
            Assert.Equal(400, problem.Status);
            Assert.False(string.IsNullOrEmpty(problem.Detail));
        }

        using (var ok = await ExportAsync(api, "format=jsonl&from=1&to=2"))
        {
            await ok.Content.ReadAsByteArrayAsync();
        }

        var log = api.Hosts[0].Services.GetRequiredService<AdminActionLog>();
        var action = await WaitForExportAsync(log);
        Assert.Equal(AdminActionLog.Export, action.Action);
        Assert.Equal(AdminKeyAuthenticationHandler.Fingerprint(AdminTests.AdminKey), action.KeyFingerprint);
        var details = action.Details.As<ExportDetails>();
        Assert.Equal("jsonl", details.Format);
        Assert.Equal(1, details.From);
        Assert.Equal(2, details.To);
        Assert.Equal("live", details.Mode);
        Assert.Equal(3, details.Rows);
        Assert.True(details.Bytes > 0);
        Assert.Equal("completed", details.Outcome);
    }

    [Fact]
    public async Task One_export_runs_at_a_time_and_a_client_that_leaves_stops_it_and_the_log_says_it_was_cut_off()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var experimentId = await api.ActiveExperimentIdAsync();
        // About 18 MB of CSV: more than the socket buffers hold, so the export is still running when the client goes.
        await api.ExecuteAsync($"""
            INSERT INTO users (id, is_anonymous, visitor_number, created_at, updated_at)
            SELECT gen_random_uuid(), true, i, now(), now() FROM generate_series(1, 200000) AS i;
            INSERT INTO experiment_sessions (id, user_id, experiment_id, visitor_number, current_level, is_completed, created_at,
                                             updated_at)
            SELECT gen_random_uuid(), id, '{experimentId}', visitor_number, 1, false, now(), now() FROM users;
            """);

        using (var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/export?format=csv"))
        {
            request.Headers.Add(AdminKeyAuthenticationHandler.KeyHeader, AdminTests.AdminKey);
            using var response = await api.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await using var body = await response.Content.ReadAsStreamAsync();
            var start = new byte[64 * 1024];
            await body.ReadAtLeastAsync(start, start.Length);

            // While it runs, a second export on this replica is turned away: the bulk pool keeps a connection for uploads.
            using var second = await ExportAsync(api, "format=jsonl");
            Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
            Assert.NotNull(second.Headers.RetryAfter);
        }

        var action = await WaitForExportAsync(api.Hosts[0].Services.GetRequiredService<AdminActionLog>());
        var details = action.Details.As<ExportDetails>();
        Assert.Equal("cut-off", details.Outcome);
        Assert.InRange(details.Rows, 1, 199_999);
    }

    /// <summary>Visitors 1–3 (conditions set by SQL): 1 answers twice, 2 never, 3 once with formula-like text.</summary>
    private static async Task<(StartedSession One, StartedSession Two, StartedSession Three)> ThreeVisitorsAsync(TestApi api)
    {
        var one = await ApiCalls.StartSessionAsync(api);
        var two = await ApiCalls.StartSessionAsync(api);
        var three = await ApiCalls.StartSessionAsync(api);
        await ApiCalls.RecordTextAsync(api.Client, one.Id, new { text = "first answer" });
        await ApiCalls.RecordTextAsync(api.Client, one.Id, "Second, with \"quotes\"\nand a new line");
        await ApiCalls.RecordAsync(api.Client, JsonContent.Create(new
        {
            sessionId = three.Id,
            levelId = "@SUM(A1)",
            questionId = "-q1",
            responseType = "text",
            responseData = "=HYPERLINK(\"http://example.invalid\",\"x\")",
        }));
        await api.ExecuteAsync("UPDATE experiment_sessions SET condition = CASE visitor_number WHEN 2 THEN 'treatment' ELSE 'control' END");
        return (one, two, three);
    }

    /// <summary>A pilot session numbered <paramref name="number"/> with one text answer, by SQL (as a pilot Play stores it).</summary>
    private static async Task<Guid> InsertPilotAsync(TestApi api, int number)
    {
        var experimentId = await api.ActiveExperimentIdAsync();
        var (user, session) = (Guid.NewGuid(), Guid.NewGuid());
        await api.ExecuteAsync($$"""
            INSERT INTO users (id, is_anonymous, mode, visitor_number, created_at, updated_at)
            VALUES ('{{user}}', true, 'pilot', {{number}}, now(), now());
            INSERT INTO experiment_sessions (id, user_id, experiment_id, visitor_number, mode, condition, current_level, is_completed,
                                             created_at, updated_at)
            VALUES ('{{session}}', '{{user}}', '{{experimentId}}', {{number}}, 'pilot', 'control', 1, false, now(), now());
            INSERT INTO experiment_responses (id, session_id, user_id, visitor_number, level_id, question_id, response_type,
                                              response_data, created_at)
            VALUES (gen_random_uuid(), '{{session}}', '{{user}}', {{number}}, '1', 'q1', 'text', '{"text":"pilot text"}', now());
            """);
        return session;
    }

    private static string IdOf(SessionDetails session) => session.Id.ToString();

    private static string FileNameOf(ResponseDetails created) => Path.GetFileName(created.Storage.ObjectName!);

    private static Task<HttpResponseMessage> ExportAsync(TestApi api, string query)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"/api/admin/export?{query}");
        request.Headers.Add(AdminKeyAuthenticationHandler.KeyHeader, AdminTests.AdminKey);
        return api.Client.SendAsync(request);
    }

    private static async Task<ZipArchive> ZipAsync(TestApi api, string query)
    {
        using var response = await ExportAsync(api, query);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/zip", response.Content.Headers.ContentType?.MediaType);
        Assert.EndsWith(".zip", response.Content.Headers.ContentDisposition?.FileName?.Trim('"'));
        return new ZipArchive(new MemoryStream(await response.Content.ReadAsByteArrayAsync()), ZipArchiveMode.Read);
    }

    private static byte[] Read(ZipArchiveEntry entry)
    {
        using var stream = entry.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>The manifest, after checking that it lists every other entry with its true size and checksums. It is a
    /// file format written field by field, with no contract record: its field names are what these tests check.</summary>
    private static JsonElement VerifiedManifest(ZipArchive archive)
    {
        var manifest = JsonDocument.Parse(Read(archive.GetEntry("manifest.json")!)).RootElement.Clone();
        var files = manifest.GetProperty("files").EnumerateArray().ToList();
        Assert.Equal(archive.Entries.Select(e => e.FullName).Where(n => n != "manifest.json"),
            files.Select(f => f.GetProperty("path").GetString()));
        foreach (var file in files)
        {
            var bytes = Read(archive.GetEntry(file.GetProperty("path").GetString()!)!);
            Assert.Equal(bytes.Length, file.GetProperty("size").GetInt64());
            Assert.Equal(Convert.ToBase64String(MD5.HashData(bytes)), file.GetProperty("md5").GetString());
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), file.GetProperty("sha256").GetString());
        }

        return manifest;
    }

    /// <summary>The export's JSON Lines: a file format written field by field (ExportRowWriter), read by its field names,
    /// where a null field is written as null.</summary>
    private static async Task<List<JsonElement>> JsonLinesAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.EndsWith("\n", text);
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
    }

    private static async Task<AdminActionEntry> WaitForExportAsync(AdminActionLog log)
    {
        AdminActionEntry? found = null;
        await Uploads.WaitUntilAsync(async () =>
        {
            found = (await log.ListAsync(10, CancellationToken.None)).FirstOrDefault(a => a.Action == AdminActionLog.Export);
            return found is not null;
        }, "the export in the action log");
        return found!;
    }

    /// <summary>RFC 4180: fields separated by commas, records by CRLF, quoted fields with doubled quotes inside.</summary>
    internal static List<string[]> ParseCsv(string text)
    {
        var records = new List<string[]>();
        var fields = new List<string>();
        var field = new StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            if (text[i] == '"')
            {
                for (i++; ; i++)
                {
                    if (text[i] == '"' && i + 1 < text.Length && text[i + 1] == '"')
                    {
                        field.Append('"');
                        i++;
                    }
                    else if (text[i] == '"')
                    {
                        i++;
                        break;
                    }
                    else
                    {
                        field.Append(text[i]);
                    }
                }
            }

            if (i < text.Length && text[i] == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
                i++;
            }
            else if (i + 1 < text.Length && text[i] == '\r' && text[i + 1] == '\n')
            {
                fields.Add(field.ToString());
                field.Clear();
                records.Add([.. fields]);
                fields.Clear();
                i += 2;
            }
            else if (i < text.Length)
            {
                field.Append(text[i++]);
            }
        }

        Assert.Empty(fields);
        return records;
    }
}
