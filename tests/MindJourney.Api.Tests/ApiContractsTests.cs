using System.Text.Json;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>Typed reads are as strict as reading the JSON by name: a field the API always writes must be there.</summary>
public sealed class ApiContractsTests
{
    private const string Session = """
        {"id":"0190a5b2-0000-7000-8000-000000000001","userId":"0190a5b2-0000-7000-8000-000000000002",
         "experimentId":"0190a5b2-0000-7000-8000-000000000003","visitorNumber":null,"studyParticipantNumber":1,
         "mode":"live","condition":null,
         "currentLevel":1,"totalLevels":4,"percentComplete":25,"branchingPath":null,"isCompleted":false,
         "createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z","sessionSecret":"s3cret"}
        """;

    [Fact]
    public void A_started_session_reads_back_with_its_secret_and_a_null_number()
    {
        var session = JsonDocument.Parse(Session).RootElement.As<StartedSession>();

        Assert.Equal("s3cret", session.SessionSecret);
        Assert.Null(session.VisitorNumber);
        Assert.Null(session.ConditionOrder); // left out when null, so it may be absent
        Assert.Equal(25, session.PercentComplete);
    }

    [Theory]
    [InlineData("visitorNumber")]
    [InlineData("sessionSecret")]
    [InlineData("condition")]
    public void A_missing_field_fails_the_read(string field)
    {
        var json = JsonDocument.Parse(Session).RootElement.EnumerateObject().Where(p => p.Name != field)
            .ToDictionary(p => p.Name, p => p.Value);
        var element = JsonSerializer.SerializeToElement(json);

        Assert.Throws<JsonException>(() => element.As<StartedSession>());
    }
}
