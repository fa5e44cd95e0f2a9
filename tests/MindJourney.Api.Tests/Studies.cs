using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MindJourney.Api.Experiments;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>The admin study calls the tests make, with the admin key, answered as the API's contract records.</summary>
internal static class Studies
{
    /// <summary>A study with two one-question levels and the conditions control, treatment (cycle); the fields given
    /// in <paramref name="fields"/> are sent as well (or instead).</summary>
    public static Dictionary<string, object?> Body(string title, params (string Field, object? Value)[] fields)
    {
        var body = new Dictionary<string, object?>
        {
            ["title"] = title,
            ["levels"] = new[]
            {
                new { title = "Level 1", questions = new[] { new { id = "q1", type = "text", prompt = "How are you?" } } },
                new { title = "Level 2", questions = new[] { new { id = "q2", type = "text", prompt = "And now?" } } },
            },
            ["conditions"] = new[] { "control", "treatment" },
            ["conditionScheme"] = "cycle",
        };
        foreach (var (field, value) in fields)
        {
            body[field] = value;
        }

        return body;
    }

    /// <summary><c>POST /api/admin/experiments</c>, which must answer 201.</summary>
    public static async Task<StudyDetails> CreateAsync(HttpClient client, object body)
    {
        using var response = await SendAsync(client, HttpMethod.Post, "/api/admin/experiments", body);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return await response.Content.ReadAsAsync<StudyDetails>();
    }

    /// <summary>An open study (cycle over control, treatment) with this cap.</summary>
    public static Task<StudyDetails> OpenAsync(HttpClient client, string slug, int? maxParticipants = null) =>
        CreateAsync(client, Body(slug, ("slug", slug), ("status", "open"), ("maxParticipants", maxParticipants)));

    /// <summary><c>PATCH /api/admin/experiments/{id}</c>, which must answer 200.</summary>
    public static async Task<StudyDetails> PatchAsync(HttpClient client, Guid id, object body)
    {
        using var response = await SendAsync(client, HttpMethod.Patch, $"/api/admin/experiments/{id}", body);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await response.Content.ReadAsAsync<StudyDetails>();
    }

    public static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Add("X-Admin-Key", AdminTests.AdminKey);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return await client.SendAsync(request);
    }

    /// <summary>A refusal's status and problem type, after checking it is problem+json.</summary>
    public static async Task<(HttpStatusCode Status, string? Type, JsonElement Problem)> ProblemAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        return (response.StatusCode, problem.TryGetProperty("type", out var type) ? type.GetString() : null, problem);
    }

    /// <summary><c>POST /api/session</c> as sent, for the tests that expect a refusal.</summary>
    public static Task<HttpResponseMessage> PlayAsync(HttpClient client, object body, string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/session") { Content = JsonContent.Create(body) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return client.SendAsync(request);
    }
}
