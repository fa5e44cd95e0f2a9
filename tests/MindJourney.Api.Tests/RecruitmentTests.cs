using System.Net;
using System.Text.Json;
using MindJourney.Api.Admin;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>People a panel sends (Prolific, MTurk, SONA, a link): within a study their panel ids are the person, on
/// any device and at the same moment across replicas; the ids are stored as given, listed and exported; bad ids are
/// 400 and a withdrawn person's ids 410, drawing no number.</summary>
[Collection(PostgresCollection.Name)]
public sealed class RecruitmentTests(PostgresServer postgres)
{
    [Fact]
    public async Task Every_source_stores_its_ids_as_given_and_the_list_and_every_export_show_them()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var study = await Studies.OpenAsync(api.Client, "panels");
        // The source table: Prolific and MTurk have a study and a session id of their own, SONA and a link only the person.
        object[] recruitments =
        [
            new { source = "prolific", participantId = "5f1a2b3c4d5e6f7a8b9c0d1e", studyId = "60aa", sessionId = "61bb" },
            new { source = "mturk", participantId = "A1B2C3D4E5F6G7", studyId = "3HIT", sessionId = "3ASSIGN" },
            new { source = "sona", participantId = "12345" },
            new { source = "link", participantId = "=tricky, \"quoted\" é" },
        ];
        var started = new List<StartedSession>();
        foreach (var recruitment in recruitments)
        {
            started.Add(await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id, recruitment }));
        }

        Assert.Equal([1, 2, 3, 4], started.Select(s => s.VisitorNumber!.Value));
        string?[][] expected =
        [
            ["prolific", "5f1a2b3c4d5e6f7a8b9c0d1e", "60aa", "61bb"],
            ["mturk", "A1B2C3D4E5F6G7", "3HIT", "3ASSIGN"],
            ["sona", "12345", null, null],
            ["link", "=tricky, \"quoted\" é", null, null],
        ];
        Assert.Equal(expected, await StoredAsync(api));

        using var csv = await Exports.SendAsync(api, "format=csv");
        var rows = ExportTests.ParseCsv(await csv.Content.ReadAsStringAsync());
        var columns = Array.IndexOf(rows[0], "recruitment_source");
        // As any cell a participant controls: a spreadsheet shows the formula-like id as text.
        var inCsv = expected.Select(Empty).Select(ids => ids.Select(id => id!.StartsWith('=') ? "'" + id : id).ToArray());
        Assert.Equal(inCsv, rows.Skip(1).Select(r => r[columns..(columns + 4)]));

        using var jsonl = await Exports.SendAsync(api, "format=jsonl");
        var lines = (await jsonl.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(expected, lines.Select(line =>
        {
            var row = JsonDocument.Parse(line).RootElement;
            return new[] { "recruitmentSource", "recruitmentParticipantId", "recruitmentStudyId", "recruitmentSessionId" }
                .Select(name => row.GetProperty(name).GetString()).ToArray();
        }));

        using var zip = await Exports.SendAsync(api, "format=zip");
        using var archive = new System.IO.Compression.ZipArchive(await zip.Content.ReadAsStreamAsync());
        using var inZip = new StreamReader(archive.GetEntry("responses.csv")!.Open());
        Assert.Equal(rows, ExportTests.ParseCsv(await inZip.ReadToEndAsync()));

        var listed = await Exports.ParticipantsAsync(api);
        Assert.Equal(Enumerable.Reverse(expected), listed.Select(r => new[]
        {
            r.RecruitmentSource, r.RecruitmentParticipantId, r.RecruitmentStudyId, r.RecruitmentSessionId,
        }));
    }

    [Fact]
    public async Task The_same_person_from_a_second_browser_keeps_their_number_and_condition_in_a_new_session_and_draws_nothing()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var study = await Studies.OpenAsync(api.Client, "one-seat", maxParticipants: 1);
        var person = new { source = "prolific", participantId = "5f00aa", studyId = "s1", sessionId = "x1" };
        using var laptop = api.Hosts[0].CreateClient();
        using var phone = api.Hosts[0].CreateClient();

        var first = await ApiCalls.StartSessionAsync(laptop, new { experimentId = study.Id, recruitment = person },
            "laptop-play-key-0001");
        var again = await ApiCalls.StartSessionAsync(phone, new { experimentId = study.Id, recruitment = person },
            "phone-play-key-00001");

        Assert.Equal((first.UserId, first.VisitorNumber, first.StudyParticipantNumber, first.Condition),
            (again.UserId, again.VisitorNumber, again.StudyParticipantNumber, again.Condition));
        Assert.NotEqual(first.Id, again.Id);
        Assert.NotEqual(first.SessionSecret, again.SessionSecret);
        Assert.Equal(1, await api.SequencePositionAsync());
        Assert.Equal(1, await api.ScalarAsync<int>($"SELECT participants_numbered FROM experiments WHERE id = '{study.Id}'"));
        // The second device's secret opens its own session only.
        using (var request = new HttpRequestMessage(HttpMethod.Get, $"/api/session/{first.Id}"))
        {
            request.Headers.Add(SessionSecretRequests.Header, again.SessionSecret);
            using var read = await phone.SendAsync(request);
            Assert.True(read.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Unauthorized, read.StatusCode.ToString());
        }

        // The study is full: a new person of the panel is refused as anyone would be; the known one went on above.
        using var stranger = await Studies.PlayAsync(api.Client,
            new { experimentId = study.Id, recruitment = new { source = "prolific", participantId = "5f00bb" } });
        Assert.Equal("/problems/study-full", (await Studies.ProblemAsync(stranger)).Type);
        // The same Idempotency-Key with another person's ids is another request.
        using var reused = await Studies.PlayAsync(api.Client,
            new { experimentId = study.Id, recruitment = person with { participantId = "5f00cc" } }, "laptop-play-key-0001");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reused.StatusCode);
        Assert.Equal(1, await api.SequencePositionAsync());
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM users"));
    }

    [Fact]
    public async Task Twenty_plays_of_one_person_at_once_across_two_instances_with_batching_make_one_person()
    {
        await using var api = await TestApi.StartAsync(postgres, instances: 2, settings: AdminTests.WithAdminKey);
        var study = await Studies.OpenAsync(api.Client, "at-once");
        var person = new { source = "mturk", participantId = "AWORKER", studyId = "HIT", sessionId = "ASSIGNMENT" };

        // Anonymous Plays among them go through the batch as before, beside the recruited ones.
        var plays = Enumerable.Range(0, 30).Select(i => ApiCalls.StartSessionAsync(api.Hosts[i % 2].CreateClient(),
            new { experimentId = study.Id, recruitment = i < 20 ? (object?)person : null },
            $"at-once-play-key-{i:D4}"));
        var sessions = await Task.WhenAll(plays);

        var recruited = sessions.Take(20).ToList();
        Assert.Single(recruited.Select(s => (s.UserId, s.VisitorNumber, s.StudyParticipantNumber)).Distinct());
        Assert.Equal(20, recruited.Select(s => s.Id).Distinct().Count());
        Assert.Equal(11, await api.SequencePositionAsync());
        Assert.Equal(11, await api.ScalarAsync<long>("SELECT count(*) FROM users"));
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM recruitments"));
        Assert.Equal(11, await api.ScalarAsync<int>($"SELECT participants_numbered FROM experiments WHERE id = '{study.Id}'"));
        Assert.Empty((await ApiCalls.AuditAsync(api.Client)).Gaps);
    }

    [Theory]
    [InlineData("""{ "source": "panel", "participantId": "p1" }""", "recruitment.source")]
    [InlineData("""{ "source": "prolific" }""", "recruitment.participantId")]
    [InlineData("""{ "source": "prolific", "participantId": " " }""", "recruitment.participantId")]
    [InlineData("""{ "source": "link", "participantId": "a\u0000b" }""", "recruitment.participantId")]
    [InlineData("""{ "source": "link", "participantId": "\ud800" }""", "recruitment.participantId")]
    [InlineData("""{ "source": "sona", "participantId": "7", "studyId": "s" }""", "recruitment.studyId")]
    [InlineData("""{ "source": "link", "participantId": "7", "sessionId": "s" }""", "recruitment.sessionId")]
    [InlineData("""{ "source": "mturk", "participantId": "7", "sessionId": "LONG" }""", "recruitment.sessionId")]
    [InlineData("""{ "source": "prolific", "participantId": "LONG" }""", "recruitment.participantId")]
    public async Task Bad_ids_are_400_with_errors_and_change_nothing(string recruitment, string field)
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var study = await Studies.OpenAsync(api.Client, "strict");
        var json = recruitment.Replace("LONG", new string('x', RecruitmentInput.MaxIdLength + 1), StringComparison.Ordinal);
        // As written: a lone surrogate escape is JSON the API reads, but no .NET string a serializer would write.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/session")
        {
            Content = new StringContent($$"""{ "experimentId": "{{study.Id}}", "recruitment": {{json}} }""",
                System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Idempotency-Key", "strict-play-key-0001");
        using var refused = await api.Client.SendAsync(request);

        var (status, _, problem) = await Studies.ProblemAsync(refused);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        // Each rule in errors; a lone surrogate is refused earlier, by the JSON reader, naming the field's path.
        Assert.True(problem.TryGetProperty("errors", out var errors) ? errors.TryGetProperty(field, out _)
            : problem.GetProperty("detail").GetString()!.Contains("$." + field, StringComparison.Ordinal), problem.ToString());
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM users"));
    }

    [Fact]
    public async Task Ids_with_a_userId_are_400_and_a_withdrawn_persons_ids_are_410_withdrawn_drawing_no_number()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var study = await Studies.OpenAsync(api.Client, "withdrawn");
        var person = new { source = "sona", participantId = "4711" };
        var first = await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id, recruitment = person });

        using var both = await Studies.PlayAsync(api.Client, new { experimentId = study.Id, userId = first.UserId, recruitment = person });
        Assert.Equal(HttpStatusCode.BadRequest, both.StatusCode);
        await api.ExecuteAsync($"UPDATE users SET withdrawn_at = now() WHERE id = '{first.UserId}'");
        using var gone = await Studies.PlayAsync(api.Client, new { experimentId = study.Id, recruitment = person }, "gone-play-key-000001");

        var (status, type, _) = await Studies.ProblemAsync(gone);
        Assert.Equal((HttpStatusCode.Gone, "/problems/withdrawn"), (status, type));
        Assert.Equal(1, await api.SequencePositionAsync());
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_sessions"));
        Assert.Equal(1, await api.ScalarAsync<int>($"SELECT participants_numbered FROM experiments WHERE id = '{study.Id}'"));
    }

    private static string?[] Empty(string?[] ids) => ids.Select(id => id ?? "").ToArray();

    private static async Task<string?[][]> StoredAsync(TestApi api)
    {
        await using var connection = new Npgsql.NpgsqlConnection(api.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("""
            SELECT r.source, r.participant_id, r.panel_study_id, r.panel_session_id FROM recruitments r
            JOIN users u ON u.id = r.user_id ORDER BY u.visitor_number
            """, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string?[]>();
        while (await reader.ReadAsync())
        {
            rows.Add([.. Enumerable.Range(0, 4).Select(i => reader.IsDBNull(i) ? null : reader.GetString(i))]);
        }

        return [.. rows];
    }
}

/// <summary>The researcher's views of the people: the export and the participant list, with the admin key.</summary>
internal static class Exports
{
    public static async Task<HttpResponseMessage> SendAsync(TestApi api, string query)
    {
        var response = await Studies.SendAsync(api.Client, HttpMethod.Get, $"/api/admin/export?{query}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response;
    }

    public static async Task<List<ParticipantRow>> ParticipantsAsync(TestApi api)
    {
        using var response = await Studies.SendAsync(api.Client, HttpMethod.Get, "/api/admin/participants?limit=50");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsAsync<List<ParticipantRow>>();
    }
}
