using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>Every bad upload gets a 4xx ProblemDetails and leaves nothing behind: no response row, no pending
/// delivery, no object in storage.</summary>
[Collection(PostgresCollection.Name)]
public sealed class UploadBadInputTests(PostgresServer postgres) : IAsyncLifetime
{
    private const int MaxMediaBytes = 64 * 1024;
    private const int MaxTextBytes = 1000;

    private TestStorage _storage = null!;
    private TestApi _api = null!;
    private Guid _sessionId;

    public async ValueTask InitializeAsync()
    {
        _storage = await TestStorage.StartAsync();
        _api = await TestApi.StartAsync(postgres, storage: _storage, settings: new Dictionary<string, string?>
        {
            ["MindJourney:Storage:MaxMediaBytes"] = MaxMediaBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["MindJourney:Storage:MaxTextBytes"] = MaxTextBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        _sessionId = (await Uploads.NewSessionAsync(_api)).Id;
    }

    public async ValueTask DisposeAsync()
    {
        await _api.DisposeAsync();
        await _storage.DisposeAsync();
    }

    public static TheoryData<string, string, string?, int, string, HttpStatusCode> BadUploads => new()
    {
        // why, responseType, file content type, file size (-1: no file part), file disposition, expected
        { "voice with a video file", "voice", "video/webm", 2048, "name=\"file\"; filename=\"a.webm\"",
            HttpStatusCode.UnsupportedMediaType },
        { "video with an audio file", "video", "audio/ogg", 2048, "name=\"file\"; filename=\"a.ogg\"",
            HttpStatusCode.UnsupportedMediaType },
        { "photo as SVG (script)", "photo", "image/svg+xml", 512, "name=\"file\"; filename=\"a.svg\"",
            HttpStatusCode.UnsupportedMediaType },
        { "video as octet-stream", "video", "application/octet-stream", 2048, "name=\"file\"; filename=\"a.webm\"",
            HttpStatusCode.UnsupportedMediaType },
        { "file without a content type", "photo", null, 2048, "name=\"file\"; filename=\"a.jpg\"", HttpStatusCode.UnsupportedMediaType },
        { "content type that is not a media type", "video", "video", 2048, "name=\"file\"; filename=\"a.webm\"",
            HttpStatusCode.UnsupportedMediaType },
        { "oversized video", "video", "video/webm", MaxMediaBytes + 1, "name=\"file\"; filename=\"big.webm\"",
            HttpStatusCode.RequestEntityTooLarge },
        { "much oversized video", "video", "video/webm", 4 * MaxMediaBytes, "name=\"file\"; filename=\"big.webm\"",
            HttpStatusCode.RequestEntityTooLarge },
        { "file on a text response", "text", "text/plain", 100, "name=\"file\"; filename=\"a.txt\"", HttpStatusCode.BadRequest },
        { "file on an email response", "email", "image/png", 100, "name=\"file\"; filename=\"a.png\"", HttpStatusCode.BadRequest },
        { "voice without a file part", "voice", "audio/webm", -1, "", HttpStatusCode.BadRequest },
        { "video without a file part", "video", "video/webm", -1, "", HttpStatusCode.BadRequest },
        { "photo without a file part", "photo", "image/png", -1, "", HttpStatusCode.BadRequest },
        { "file part with another name", "video", "video/webm", 2048, "name=\"upload\"; filename=\"a.webm\"", HttpStatusCode.BadRequest },
        { "unknown response type", "smell", "video/webm", 2048, "name=\"file\"; filename=\"a.webm\"", HttpStatusCode.BadRequest },
    };

    [Theory]
    [MemberData(nameof(BadUploads))]
    public async Task A_bad_upload_is_refused_and_nothing_is_stored(string why, string responseType, string? contentType, int size,
        string disposition, HttpStatusCode expected)
    {
        var content = Uploads.Multipart(Uploads.Fields(_sessionId, responseType),
            size < 0 ? null : Uploads.RandomBytes(size, 1), contentType, disposition);

        await AssertRefusedAsync(await _api.Client.PostAsync("/api/response", content), expected, why);
    }

    [Fact]
    public async Task Multipart_fields_keep_the_json_forms_limits()
    {
        var longLevel = Uploads.Fields(_sessionId, "video");
        longLevel["levelId"] = new string('l', 300);
        await AssertRefusedAsync(await _api.Client.PostAsync("/api/response", Uploads.Multipart(longLevel, Uploads.RandomBytes(100, 1))),
            HttpStatusCode.BadRequest, "levelId over 200 characters");

        var longData = Uploads.Fields(_sessionId, "video", responseData: new string('d', MaxTextBytes + 1));
        await AssertRefusedAsync(await _api.Client.PostAsync("/api/response", Uploads.Multipart(longData, Uploads.RandomBytes(100, 1))),
            HttpStatusCode.RequestEntityTooLarge, "responseData over MaxTextBytes");

        var badSession = Uploads.Fields(_sessionId, "video");
        badSession["sessionId"] = "not-a-uuid";
        await AssertRefusedAsync(await _api.Client.PostAsync("/api/response", Uploads.Multipart(badSession, Uploads.RandomBytes(100, 1))),
            HttpStatusCode.BadRequest, "sessionId not a uuid");
    }

    [Fact]
    public async Task An_upload_for_an_unknown_session_is_404_and_nothing_is_stored()
    {
        var content = Uploads.Multipart(Uploads.Fields(Guid.NewGuid(), "video"), Uploads.RandomBytes(2048, 1));

        await AssertRefusedAsync(await _api.Client.PostAsync("/api/response", content), HttpStatusCode.NotFound, "unknown session");
    }

    [Fact]
    public async Task A_text_answer_for_an_unknown_session_is_404_and_nothing_is_stored()
    {
        var response = await _api.Client.PostAsync("/api/response", JsonBody(new
        {
            sessionId = Guid.NewGuid(),
            levelId = "1",
            questionId = "q1",
            responseType = "text",
            responseData = "hello",
        }));

        await AssertRefusedAsync(response, HttpStatusCode.NotFound, "unknown session");
    }

    [Fact]
    public async Task A_text_answer_over_the_text_limit_is_413()
    {
        var response = await _api.Client.PostAsync("/api/response", JsonBody(new
        {
            sessionId = _sessionId,
            levelId = "1",
            questionId = "q1",
            responseType = "text",
            responseData = new string('a', MaxTextBytes + 1),
        }));

        await AssertRefusedAsync(response, HttpStatusCode.RequestEntityTooLarge, "text over MaxTextBytes");
    }

    [Fact]
    public async Task A_json_body_over_one_mebibyte_is_413_even_though_uploads_may_be_larger()
    {
        await using var api = await TestApi.StartAsync(postgres, storage: _storage);
        var sessionId = (await Uploads.NewSessionAsync(api)).Id;
        var body = $"{{\"sessionId\":\"{sessionId}\",\"levelId\":\"1\",\"questionId\":\"q1\"," +
            $"\"responseType\":\"email\",\"responseData\":\"{new string('x', 1024 * 1024 + 10)}\"}}";

        var response = await api.Client.PostAsync("/api/response", new StringContent(body, Encoding.UTF8, "application/json"));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.RequestEntityTooLarge, $"{(int)response.StatusCode} {text}");
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"));
    }

    public static TheoryData<string, string, string> MalformedBodies => new()
    {
        { "plain text", "text/plain", "hello" },
        { "form-urlencoded", "application/x-www-form-urlencoded", "sessionId=1" },
        { "multipart without a boundary", "multipart/form-data", "--x\r\n" },
        { "multipart cut short", "multipart/form-data; boundary=abc",
            "--abc\r\nContent-Disposition: form-data; name=\"sessionId\"\r\n\r\n123" },
        { "multipart part without a name", "multipart/form-data; boundary=abc",
            "--abc\r\nContent-Disposition: form-data\r\n\r\nx\r\n--abc--\r\n" },
        { "JSON null", "application/json", "null" },
        {
            "two file parts", "multipart/form-data; boundary=abc",
            "--abc\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.webm\"\r\nContent-Type: video/webm\r\n\r\nxx\r\n" +
            "--abc\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.webm\"\r\nContent-Type: video/webm\r\n\r\nyy\r\n" +
            "--abc--\r\n"
        },
        {
            "a field sent twice", "multipart/form-data; boundary=abc",
            "--abc\r\nContent-Disposition: form-data; name=\"levelId\"\r\n\r\n1\r\n" +
            "--abc\r\nContent-Disposition: form-data; name=\"levelId\"\r\n\r\n2\r\n--abc--\r\n"
        },
    };

    [Theory]
    [MemberData(nameof(MalformedBodies))]
    public async Task A_malformed_body_is_refused_with_4xx(string why, string contentType, string body)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);

        var response = await _api.Client.PostAsync("/api/response", content);

        Assert.True((int)response.StatusCode is >= 400 and < 500, $"{why}: {(int)response.StatusCode}");
        await AssertRefusedAsync(response, response.StatusCode, why);
    }

    private static StringContent JsonBody(object value) =>
        new(JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");

    private async Task AssertRefusedAsync(HttpResponseMessage response, HttpStatusCode expected, string why)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"{why}: expected {(int)expected}, got {(int)response.StatusCode} {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal((int)expected, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()));
        Assert.Equal(0, await _api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"));
        Assert.Equal(0, await _api.ScalarAsync<long>("SELECT count(*) FROM storage_deliveries"));
        Assert.Empty(await _storage.ListAsync("experiment-responses/"));
    }
}
