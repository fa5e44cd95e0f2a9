using System.Net;
using System.Net.Http.Json;
using System.Text;
using MindJourney.Api.Admin;
using MindJourney.Api.Experiments;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>Pilots draw from their own sequence: the live numbers, the audit and the live balance never see them.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PilotTests(PostgresServer postgres)
{
    [Fact]
    public async Task Pilots_are_numbered_1_2_3_from_their_own_sequence_and_leave_the_live_numbers_and_the_audit_alone()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var experimentId = await api.ActiveExperimentIdAsync();
        var pilotToken = await api.PilotTokenAsync(experimentId);

        var pilots = new List<StartedSession>();
        for (var i = 0; i < 3; i++)
        {
            pilots.Add(await ApiCalls.StartSessionAsync(api.Client, new { experimentId, mode = "pilot", pilotToken }));
        }

        Assert.Equal([1, 2, 3], pilots.Select(p => p.VisitorNumber!.Value));
        Assert.All(pilots, p => Assert.Equal("pilot", p.Mode));
        Assert.Equal(["control", "treatment", "control"], pilots.Select(p => p.Condition));
        Assert.Equal(0, await api.SequencePositionAsync());

        var live = await ApiCalls.StartSessionAsync(api.Client, new { experimentId });
        Assert.Equal(1, live.VisitorNumber);
        Assert.Equal("live", live.Mode);
        Assert.Equal("pilot", await api.ScalarAsync<string>($"SELECT mode FROM users WHERE id = '{pilots[0].UserId}'"));

        var audit = await ApiCalls.AuditAsync(api.Client);
        // Only the live visitor counts: the sequence's position, the users and the numbered users are all 1.
        Assert.Equal((1L, 1L, 1L), (audit.SequenceLastValue, audit.Users, audit.NumberedUsers));
        Assert.Empty(audit.Gaps);
        Assert.Empty(audit.Duplicates);
        Assert.Equal(0, audit.MismatchedSessions);
        var balance = audit.Conditions.ToDictionary(c => c.Condition, c => c.Started);
        Assert.Equal(new Dictionary<string, long> { ["control"] = 1, ["treatment"] = 0 }, balance);

        // The health check compares live numbers only: pilot 1 and visitor 1 are not one number held twice.
        using var health = await api.Client.GetAsync("/health");
        Assert.DoesNotContain("held twice", await health.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_returning_pilot_keeps_their_pilot_number_and_a_person_cannot_change_mode()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var experimentId = await api.ActiveExperimentIdAsync();
        var pilotToken = await api.PilotTokenAsync(experimentId);
        var pilot = await ApiCalls.StartSessionAsync(api.Client, new { experimentId, mode = "pilot", pilotToken });
        var live = await ApiCalls.StartSessionAsync(api.Client, new { experimentId });

        var pilotId = pilot.UserId;
        var liveId = live.UserId;
        var again = await ApiCalls.StartSessionAsync(api.Client, new { experimentId, mode = "pilot", pilotToken, userId = pilotId },
            secret: pilot.SessionSecret);
        using var pilotAsLive = await StartWithProofAsync(api.Client, new { experimentId, userId = pilotId }, pilot);
        using var liveAsPilot = await StartWithProofAsync(api.Client, new { experimentId, mode = "pilot", pilotToken, userId = liveId },
            live);

        Assert.Equal(1, again.VisitorNumber);
        Assert.Equal("pilot", again.Mode);
        foreach (var refused in new[] { pilotAsLive, liveAsPilot })
        {
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        }

        Assert.Equal(1, await api.SequencePositionAsync());
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT last_value FROM pilot_counter_sequence"));
        Assert.Equal(3, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_sessions"));
    }

    [Theory]
    [InlineData("\"Pilot\"")]
    [InlineData("\"test\"")]
    [InlineData("\"\"")]
    [InlineData("1")]
    public async Task A_mode_other_than_live_or_pilot_is_refused_with_400(string mode)
    {
        await using var api = await TestApi.StartAsync(postgres);
        var experimentId = await api.ActiveExperimentIdAsync();

        using var response = await api.Client.PostAsync("/api/session",
            new StringContent($$"""{ "experimentId": "{{experimentId}}", "mode": {{mode}} }""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM users"));
    }

    [Fact]
    public async Task Recovery_numbers_a_pilot_fallback_from_the_pilot_sequence_and_a_live_one_from_the_live_sequence()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var experimentId = await api.ActiveExperimentIdAsync();
        var pilotToken = await api.PilotTokenAsync(experimentId);
        for (var i = 0; i < 2; i++)
        {
            await ApiCalls.StartSessionAsync(api.Client, new { experimentId, mode = "pilot", pilotToken }); // pilots 1, 2
            await ApiCalls.StartSessionAsync(api.Client, new { experimentId }); // visitors 1, 2
        }

        await api.ExecuteAsync("ALTER SEQUENCE pilot_counter_sequence MAXVALUE 2; ALTER SEQUENCE visitor_counter_sequence MAXVALUE 2");
        var pilotFallback = await ApiCalls.StartSessionAsync(api.Client, new { experimentId, mode = "pilot", pilotToken });
        var liveFallback = await ApiCalls.StartSessionAsync(api.Client, new { experimentId });
        Assert.Null(pilotFallback.VisitorNumber);
        Assert.Null(liveFallback.VisitorNumber);
        await api.ExecuteAsync("ALTER SEQUENCE pilot_counter_sequence NO MAXVALUE; ALTER SEQUENCE visitor_counter_sequence NO MAXVALUE");

        var result = await ApiCalls.RecoverAsync(api.Client);

        var assignments = result.Assignments.ToDictionary(a => a.SessionId);
        var pilot = assignments[pilotFallback.Id];
        var live = assignments[liveFallback.Id];
        Assert.Equal((3, "pilot", "control"), Summary(pilot));
        Assert.Equal((3, "live", "control"), Summary(live));
        Assert.Equal(3, await api.SequencePositionAsync());
        Assert.Equal(3, await api.ScalarAsync<long>("SELECT last_value FROM pilot_counter_sequence"));
        var audit = await ApiCalls.AuditAsync(api.Client);
        Assert.Empty(audit.Gaps);
        Assert.Equal(3, audit.Users);
    }

    [Fact]
    public async Task A_pilot_takes_the_study_s_current_pilot_token_and_a_regenerated_one_revokes_the_old_link()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var draft = await Studies.CreateAsync(api.Client, Studies.Body("Pilot me", ("slug", "pilot-me")));
        var pilotToken = draft.PilotUrl[(draft.PilotUrl.IndexOf("&pilot=", StringComparison.Ordinal) + "&pilot=".Length)..];
        Assert.Equal($"/?study=pilot-me&pilot={pilotToken}", draft.PilotUrl);
        Assert.Equal(await api.PilotTokenAsync(draft.Id), pilotToken);

        using var without = await Studies.PlayAsync(api.Client, new { experimentId = draft.Id, mode = "pilot" });
        using var otherStudys = await Studies.PlayAsync(api.Client,
            new { experimentId = draft.Id, mode = "pilot", pilotToken = await api.PilotTokenAsync(StudiesApiTests.SeededStudyId) });
        var pilot = await ApiCalls.StartSessionAsync(api.Client, new { experimentId = draft.Id, mode = "pilot", pilotToken });
        using var live = await Studies.PlayAsync(api.Client, new { experimentId = draft.Id, pilotToken });
        using var page = await ReadStudyAsync(api.Client, "pilot-me", pilotToken);
        using var pageWithout = await ReadStudyAsync(api.Client, "pilot-me", null);

        Assert.Equal((HttpStatusCode.Forbidden, "/problems/pilot-token-invalid"), Head(await Studies.ProblemAsync(without)));
        Assert.Equal((HttpStatusCode.Forbidden, "/problems/pilot-token-invalid"), Head(await Studies.ProblemAsync(otherStudys)));
        Assert.Equal(("pilot", 1, 1), (pilot.Mode, pilot.VisitorNumber, pilot.StudyParticipantNumber));
        Assert.Equal((HttpStatusCode.Conflict, "/problems/study-not-open"), Head(await Studies.ProblemAsync(live)));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal((HttpStatusCode.Conflict, "/problems/study-not-open"), Head(await Studies.ProblemAsync(pageWithout)));

        using var regenerated = await Studies.SendAsync(api.Client, HttpMethod.Post, $"/api/admin/experiments/{draft.Id}/pilot-token");
        var renewed = await regenerated.Content.ReadAsAsync<StudyDetails>();
        using var revoked = await Studies.PlayAsync(api.Client, new { experimentId = draft.Id, mode = "pilot", pilotToken });

        Assert.NotEqual(draft.PilotUrl, renewed.PilotUrl);
        Assert.Equal((HttpStatusCode.Forbidden, "/problems/pilot-token-invalid"), Head(await Studies.ProblemAsync(revoked)));
        Assert.Equal(0, await api.SequencePositionAsync());
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM users"));
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM admin_actions WHERE action = 'pilot-token-regenerated'"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("0123456789abcdef0123456789abcde")] // 31 characters
    public async Task The_API_does_not_start_without_a_pilot_signing_key_of_32_characters_and_names_the_setting(string signingKey)
    {
        const string Setting = "MindJourney:Pilot:SigningKey";
        var connectionString = await postgres.CreateDatabaseAsync();
        await using var host = new ApiHost(connectionString, new Dictionary<string, string?> { [Setting] = signingKey });

        var refused = Assert.ThrowsAny<Exception>(host.StartServer);

        Assert.Contains(Setting, refused.ToString(), StringComparison.Ordinal);
    }

    private static async Task<HttpResponseMessage> ReadStudyAsync(HttpClient client, string slug, string? pilotToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/experiment?study={slug}");
        if (pilotToken is not null)
        {
            request.Headers.Add(PilotTokens.Header, pilotToken);
        }

        return await client.SendAsync(request);
    }

    private static (HttpStatusCode, string?) Head((HttpStatusCode Status, string? Type, System.Text.Json.JsonElement Problem) refusal) =>
        (refusal.Status, refusal.Type);

    private static async Task<HttpResponseMessage> StartWithProofAsync(HttpClient client, object body, StartedSession ownSession)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/session") { Content = JsonContent.Create(body) };
        request.Headers.Add(SessionSecretRequests.Header, ownSession.SessionSecret);
        return await client.SendAsync(request);
    }

    private static (int, string?, string?) Summary(VisitorNumberAssignment assignment) =>
        (assignment.VisitorNumber, assignment.Mode, assignment.Condition);
}
