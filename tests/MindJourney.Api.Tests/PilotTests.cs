using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
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

        var pilots = new List<JsonElement>();
        for (var i = 0; i < 3; i++)
        {
            pilots.Add(await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId, mode = "pilot" }));
        }

        Assert.Equal([1, 2, 3], pilots.Select(p => p.GetProperty("visitorNumber").GetInt32()));
        Assert.All(pilots, p => Assert.Equal("pilot", p.GetProperty("mode").GetString()));
        Assert.Equal(["control", "treatment", "control"], pilots.Select(p => p.GetProperty("condition").GetString()));
        Assert.Equal(0, await api.SequencePositionAsync());

        var live = await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId });
        Assert.Equal(1, live.GetProperty("visitorNumber").GetInt32());
        Assert.Equal("live", live.GetProperty("mode").GetString());
        Assert.Equal("pilot", await api.ScalarAsync<string>($"SELECT mode FROM users WHERE id = '{pilots[0].GetProperty("userId")}'"));

        var audit = await AdminTests.AuditAsync(api.Client);
        Assert.Equal(1, audit.GetProperty("sequenceLastValue").GetInt64());
        Assert.Equal(1, audit.GetProperty("users").GetInt64());
        Assert.Equal(1, audit.GetProperty("numberedUsers").GetInt64());
        Assert.Empty(audit.GetProperty("gaps").EnumerateArray());
        Assert.Empty(audit.GetProperty("duplicates").EnumerateArray());
        Assert.Equal(0, audit.GetProperty("mismatchedSessions").GetInt64());
        var balance = audit.GetProperty("conditions").EnumerateArray()
            .ToDictionary(c => c.GetProperty("condition").GetString()!, c => c.GetProperty("started").GetInt64());
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
        var pilot = await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId, mode = "pilot" });
        var live = await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId });

        var pilotId = pilot.GetProperty("userId").GetGuid();
        var liveId = live.GetProperty("userId").GetGuid();
        var again = await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId, mode = "pilot", userId = pilotId },
            secret: SessionSecretRequests.SecretOf(pilot));
        using var pilotAsLive = await StartWithProofAsync(api.Client, new { experimentId, userId = pilotId }, pilot);
        using var liveAsPilot = await StartWithProofAsync(api.Client, new { experimentId, mode = "pilot", userId = liveId }, live);

        Assert.Equal(1, again.GetProperty("visitorNumber").GetInt32());
        Assert.Equal("pilot", again.GetProperty("mode").GetString());
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
        for (var i = 0; i < 2; i++)
        {
            await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId, mode = "pilot" }); // pilots 1, 2
            await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId }); // visitors 1, 2
        }

        await api.ExecuteAsync("ALTER SEQUENCE pilot_counter_sequence MAXVALUE 2; ALTER SEQUENCE visitor_counter_sequence MAXVALUE 2");
        var pilotFallback = await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId, mode = "pilot" });
        var liveFallback = await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId });
        Assert.Equal(JsonValueKind.Null, pilotFallback.GetProperty("visitorNumber").ValueKind);
        Assert.Equal(JsonValueKind.Null, liveFallback.GetProperty("visitorNumber").ValueKind);
        await api.ExecuteAsync("ALTER SEQUENCE pilot_counter_sequence NO MAXVALUE; ALTER SEQUENCE visitor_counter_sequence NO MAXVALUE");

        var result = await ConditionTests.RecoverAsync(api.Client);

        var assignments = result.GetProperty("assignments").EnumerateArray().ToDictionary(a => a.GetProperty("sessionId").GetGuid());
        var pilot = assignments[pilotFallback.GetProperty("id").GetGuid()];
        var live = assignments[liveFallback.GetProperty("id").GetGuid()];
        Assert.Equal((3, "pilot", "control"), Summary(pilot));
        Assert.Equal((3, "live", "control"), Summary(live));
        Assert.Equal(3, await api.SequencePositionAsync());
        Assert.Equal(3, await api.ScalarAsync<long>("SELECT last_value FROM pilot_counter_sequence"));
        var audit = await AdminTests.AuditAsync(api.Client);
        Assert.Empty(audit.GetProperty("gaps").EnumerateArray());
        Assert.Equal(3, audit.GetProperty("users").GetInt64());
    }

    private static async Task<HttpResponseMessage> StartWithProofAsync(HttpClient client, object body, JsonElement ownSession)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/session") { Content = JsonContent.Create(body) };
        request.Headers.Add(SessionSecretRequests.Header, SessionSecretRequests.SecretOf(ownSession));
        return await client.SendAsync(request);
    }

    private static (int, string?, string?) Summary(JsonElement assignment) => (assignment.GetProperty("visitorNumber").GetInt32(),
        assignment.GetProperty("mode").GetString(), assignment.GetProperty("condition").GetString());
}
