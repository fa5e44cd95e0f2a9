using System.Net.Http.Json;
using System.Text.Json;

namespace MindJourney.Testing;

/// <summary>Reads and updates of a session as its participant makes them: with the secret that the session's start
/// returned, in the X-Session-Secret header.</summary>
public static class SessionSecretRequests
{
    public const string Header = "X-Session-Secret";

    public static string SecretOf(JsonElement session) => session.GetProperty("sessionSecret").GetString()!;

    public static Task<HttpResponseMessage> GetAsync(this HttpClient client, string url, string secret) =>
        client.SendAsync(WithSecret(new HttpRequestMessage(HttpMethod.Get, url), secret));

    public static Task<JsonElement> GetFromJsonAsync(this HttpClient client, string url, string secret) =>
        client.GetFromJsonAsync<JsonElement>(url, secret);

    /// <summary>The answer as the API's contract <typeparamref name="T"/>.</summary>
    public static async Task<T> GetFromJsonAsync<T>(this HttpClient client, string url, string secret)
    {
        using var response = await client.GetAsync(url, secret);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsAsync<T>();
    }

    public static Task<HttpResponseMessage> PatchAsJsonAsync<T>(this HttpClient client, string url, T body, string secret) =>
        client.SendAsync(WithSecret(new HttpRequestMessage(HttpMethod.Patch, url) { Content = JsonContent.Create(body) }, secret));

    private static HttpRequestMessage WithSecret(HttpRequestMessage request, string secret)
    {
        request.Headers.Add(Header, secret);
        return request;
    }
}
