using System.Net;
using MindJourney.Api.Admin;
using MindJourney.Api.Responses;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>The calls most tests make, answered as the API's contract records (<see cref="ApiContracts"/>).</summary>
internal static class ApiCalls
{
    /// <summary><c>POST /api/session</c>, which must answer 201.</summary>
    public static Task<StartedSession> StartSessionAsync(HttpClient client, object body, string? idempotencyKey = null,
        string? secret = null) =>
        SessionNumberingTests.CreateSessionAsync(client, body, idempotencyKey, secret);

    /// <summary>A new participant's session in the active experiment.</summary>
    public static Task<StartedSession> StartSessionAsync(TestApi api) => Uploads.NewSessionAsync(api);

    /// <summary><c>POST /api/response</c>, which must answer 201.</summary>
    public static Task<ResponseDetails> RecordAsync(HttpClient client, HttpContent content) =>
        Uploads.PostCreatedAsync(client, content);

    public static Task<ResponseDetails> RecordTextAsync(HttpClient client, Guid sessionId, object responseData) =>
        Uploads.PostTextAsync(client, sessionId, responseData);

    public static async Task<AuditReport> AuditAsync(HttpClient client) => (await AdminTests.AuditAsync(client)).As<AuditReport>();

    /// <summary><c>POST /api/admin/assign-visitor-numbers</c> with the admin key, which must answer 200.</summary>
    public static async Task<RecoveryResult> RecoverAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/admin/assign-visitor-numbers");
        request.Headers.Add("X-Admin-Key", AdminTests.AdminKey);
        using var response = await client.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await response.Content.ReadAsAsync<RecoveryResult>();
    }
}
