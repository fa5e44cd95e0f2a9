using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MindJourney.Api.Responses;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>Builds the requests of the upload tests and waits for what the storage worker does.</summary>
internal static class Uploads
{
    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>A multipart body written by hand, so each test controls the exact part headers (file names with
    /// path segments or control characters, missing content types) that a browser or a script might send.</summary>
    public static HttpContent Multipart(IReadOnlyDictionary<string, string> fields, byte[]? file = null,
        string? fileContentType = "video/webm", string fileDisposition = "name=\"file\"; filename=\"clip.webm\"")
    {
        const string boundary = "----mindjourney-test-boundary";
        using var body = new MemoryStream();
        void Write(string text) => body.Write(Encoding.UTF8.GetBytes(text));

        foreach (var (name, value) in fields)
        {
            Write($"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n");
        }

        if (file is not null)
        {
            Write($"--{boundary}\r\nContent-Disposition: form-data; {fileDisposition}\r\n");
            if (fileContentType is not null)
            {
                Write($"Content-Type: {fileContentType}\r\n");
            }

            Write("\r\n");
            body.Write(file);
            Write("\r\n");
        }

        Write($"--{boundary}--\r\n");
        var content = new ByteArrayContent(body.ToArray());
        content.Headers.ContentType = MediaTypeHeaderValue.Parse($"multipart/form-data; boundary={boundary}");
        return content;
    }

    public static Dictionary<string, string> Fields(Guid sessionId, string responseType,
        string responseData = "{\"durationMs\":1500}") => new()
        {
            ["sessionId"] = sessionId.ToString(),
            ["levelId"] = "3",
            ["questionId"] = "q4",
            ["responseType"] = responseType,
            ["responseData"] = responseData,
        };

    /// <summary><c>POST /api/response</c>, which must answer 201, read as the contract (its <c>userId</c> absent).</summary>
    public static async Task<ResponseDetails> PostCreatedAsync(HttpClient client, HttpContent content) =>
        (await PostCreatedJsonAsync(client, content)).As<ResponseDetails>();

    /// <summary>The same answer as written, for the tests that check its JSON shape (field names, a field left out).</summary>
    public static async Task<JsonElement> PostCreatedJsonAsync(HttpClient client, HttpContent content)
    {
        using var response = await client.PostAsync("/api/response", content);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static Task<ResponseDetails> PostTextAsync(HttpClient client, Guid sessionId, object responseData) =>
        PostCreatedAsync(client, TextAnswer(sessionId, responseData));

    public static Task<JsonElement> PostTextJsonAsync(HttpClient client, Guid sessionId, object responseData) =>
        PostCreatedJsonAsync(client, TextAnswer(sessionId, responseData));

    private static JsonContent TextAnswer(Guid sessionId, object responseData) => JsonContent.Create(new
    {
        sessionId,
        levelId = "1",
        questionId = "q1",
        responseType = "text",
        responseData,
    });

    /// <summary>A new participant's session in the active experiment.</summary>
    public static async Task<StartedSession> NewSessionAsync(TestApi api) =>
        await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId = await api.ActiveExperimentIdAsync() });

    /// <summary>Waits until the response's upload is in storage (the worker's job), or fails after 30 s.</summary>
    public static async Task WaitUntilStoredAsync(TestApi api, Guid responseId)
    {
        var clock = Stopwatch.StartNew();
        while (await api.ScalarAsync<string>($"SELECT storage_status FROM experiment_responses WHERE id = '{responseId}'") != "stored")
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"response {responseId} was not delivered within 30 s");
            await Task.Delay(100);
        }
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, int withinSeconds = 30)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(withinSeconds), $"not within {withinSeconds} s: {what}");
            await Task.Delay(100);
        }
    }

    public static async Task<(byte[] Bytes, string? ContentType)> DownloadAsync(HttpClient client, Guid responseId, string sessionSecret)
    {
        using var response = await client.GetAsync($"/api/download/{responseId}", sessionSecret);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"download {(int)response.StatusCode}: {Encoding.UTF8.GetString(bytes)}");
        return (bytes, response.Content.Headers.ContentType?.ToString());
    }
}
