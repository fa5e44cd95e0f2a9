using System.Text;
using MindJourney.LoadTests.Scenarios;

namespace MindJourney.LoadTests.Tests;

/// <summary>What the harness accepts as a valid answer decides what its checks count: a fallback (a null number) is
/// an answer, a missing number or a malformed id is not.</summary>
public sealed class ApiJsonTests
{
    private const string SessionId = "0193a1b2-0000-7000-8000-000000000001";

    [Fact]
    public void A_session_answer_gives_its_id_number_and_secret()
    {
        Assert.True(ApiJson.TryReadSession(
            Bytes($$$"""{"id":"{{{SessionId}}}","visitorNumber":42,"sessionSecret":"s3","extra":{"a":[1]}}"""),
            out var id, out var number, out var secret));
        Assert.Equal(Guid.Parse(SessionId), id);
        Assert.Equal(42, number);
        Assert.Equal("s3", secret);
    }

    [Fact]
    public void A_fallback_session_has_a_null_number_and_is_still_an_answer()
    {
        Assert.True(ApiJson.TryReadSession(Bytes($$"""{"id":"{{SessionId}}","visitorNumber":null}"""), out _, out var number, out _));
        Assert.Null(number);
    }

    [Theory]
    [InlineData("""{"id":"0193a1b2-0000-7000-8000-000000000001"}""")] // no visitorNumber at all
    [InlineData("""{"id":"not-a-guid","visitorNumber":1}""")]
    [InlineData("""{"id":"0193a1b2-0000-7000-8000-000000000001","visitorNumber":1.5}""")]
    [InlineData("""[1,2]""")]
    [InlineData("""null""")]
    [InlineData("""{"id":""")]
    public void A_session_answer_without_a_valid_id_and_number_is_invalid(string json) =>
        Assert.False(ApiJson.TryReadSession(Bytes(json), out _, out _, out _));

    [Fact]
    public void Levels_are_ordered_by_number_and_questions_read_from_a_string_holding_json()
    {
        var json = """
            [{"id":"b","levelNumber":2,"questions":[{"id":"q2"},{"prompt":"no id"}]},
             {"id":"a","levelNumber":1,"questions":"[{\"id\":\"q1\"}]"}]
            """;

        Assert.True(ApiJson.TryReadLevels(Bytes(json), out var levels));

        Assert.Equal(["a", "b"], levels.Select(l => l.Id));
        Assert.Equal(["q1"], levels[0].QuestionIds);
        Assert.Equal(["q2", "q2"], levels[1].QuestionIds);
    }

    [Fact]
    public void A_response_answer_gives_its_storage_status_and_object()
    {
        var json = $$$"""{"id":"{{{SessionId}}}","visitorNumber":7,"storage":{"status":"stored","objectName":"experiment-responses/x"}}""";

        Assert.True(ApiJson.TryReadResponse(Bytes(json), out _, out var number, out var status, out var objectName));

        Assert.Equal(7, number);
        Assert.Equal("stored", status);
        Assert.Equal("experiment-responses/x", objectName);
    }

    private static byte[] Bytes(string json) => Encoding.UTF8.GetBytes(json);
}
