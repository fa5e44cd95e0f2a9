using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using MindJourney.Api.Admin;
using MindJourney.Api.Telemetry;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>The admin key cannot be guessed at leisure: against a Production API with its default limits, wrong keys
/// (on admin routes and on session routes, where the key stands in for a secret) are counted per client, and past
/// the limit every admin call from that client answers 429 for the rest of the window, the right key included; the
/// API does not start with a key short enough to guess.</summary>
[Collection(PostgresCollection.Name)]
public sealed class AdminKeyGuessingTests(PostgresServer postgres)
{
    [Fact]
    public async Task Past_ten_wrong_keys_every_admin_call_from_that_client_answers_429_with_Retry_After_logged_once_and_counted()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey, productionLimits: true);
        var host = api.Hosts[0];
        var logs = new FakeLogCollector();
        host.Services.GetRequiredService<ILoggerFactory>().AddProvider(new FakeLoggerProvider(logs));
        using var failures = new MetricCollector<long>(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            AdminTelemetry.SourceName, "mindjourney.admin.auth_failures");
        var session = await Uploads.NewSessionAsync(api);
        var sessionPath = $"/api/session/{session.Id}";
        using var guesser = SourceAddress.Client(host.ServerAddress, "127.0.0.2");
        using var researcher = SourceAddress.Client(host.ServerAddress, "127.0.0.3");

        // Ten wrong keys, on admin routes and on a session route (where the admin key may replace the secret).
        string[] paths = ["/api/admin/visitor-numbers/audit", "/api/admin/export?format=csv", sessionPath, "/api/admin/participants"];
        for (var i = 0; i < 10; i++)
        {
            using var wrong = await SendAsync(guesser, paths[i % paths.Length], $"guess-{i:D2}-{new string('x', 40)}");
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        // The eleventh, and then the right key, on an admin route and on a session route: refused for the window.
        foreach (var (path, key) in new[]
                 {
                     ("/api/admin/visitor-numbers/audit", "guess-10-" + new string('x', 40)),
                     ("/api/admin/visitor-numbers/audit", AdminTests.AdminKey),
                     (sessionPath, AdminTests.AdminKey),
                     ("/api/admin/visitor-numbers/health", (string?)null),
                 })
        {
            using var refused = await SendAsync(guesser, path, key);
            var body = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.TooManyRequests, $"{path}: {(int)refused.StatusCode} {body}");
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.Equal(429, JsonDocument.Parse(body).RootElement.GetProperty("status").GetInt32());
            var retryAfter = refused.Headers.RetryAfter?.Delta;
            Assert.True(retryAfter is { TotalSeconds: >= 1 and <= 60 }, $"Retry-After: {refused.Headers.RetryAfter}");
        }

        // The participant's own secret still works from there, and another client's right key is not affected.
        using (var own = await guesser.GetAsync(sessionPath, session.SessionSecret!))
        {
            Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        }

        using (var other = await SendAsync(researcher, "/api/admin/visitor-numbers/audit", AdminTests.AdminKey))
        {
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }

        var warnings = logs.GetSnapshot().Where(l => l.Category == typeof(AdminAuthThrottle).FullName).ToList();
        var warning = Assert.Single(warnings);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("127.0.0.2", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(logs.GetSnapshot(), l => l.Message.Contains("guess-", StringComparison.Ordinal)
            || l.Message.Contains(AdminTests.AdminKey, StringComparison.Ordinal));

        var measured = failures.GetMeasurementSnapshot();
        Assert.Equal(10, measured.Where(m => (string?)m.Tags[AdminTelemetry.ReasonTag] == AdminTelemetry.ReasonWrongKey).Sum(m => m.Value));
        Assert.Equal(4, measured.Where(m => (string?)m.Tags[AdminTelemetry.ReasonTag] == AdminTelemetry.ReasonThrottled).Sum(m => m.Value));
    }

    [Theory]
    [InlineData("short-admin-key")]
    [InlineData("0123456789abcdef0123456789abcde")] // 31 characters
    public async Task An_admin_key_shorter_than_32_characters_stops_the_start_with_a_message_naming_the_setting(string key)
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => TestApi.StartAsync(postgres,
            settings: new Dictionary<string, string?> { ["Admin:ApiKey"] = key }, productionLimits: true));

        var messages = Messages(failure);
        Assert.Contains("Admin:ApiKey must be at least 32 characters", messages, StringComparison.Ordinal);
        Assert.DoesNotContain(key, messages, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("MindJourney:RateLimit:AdminFailuresPerWindow", "0")]
    [InlineData("MindJourney:RateLimit:AdminFailureWindowSeconds", "-5")]
    public async Task The_admin_key_throttle_cannot_be_turned_off_an_invalid_value_stops_the_start(string setting, string value)
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => TestApi.StartAsync(postgres,
            settings: new Dictionary<string, string?> { [setting] = value }, productionLimits: true));

        Assert.Contains(setting, Messages(failure), StringComparison.Ordinal);
    }

    /// <summary>Every message of a failed start, inner exceptions included.</summary>
    internal static string Messages(Exception failure) => string.Join(" | ", Flatten(failure).Select(e => e.Message));

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, string path, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (key is not null)
        {
            request.Headers.Add(AdminKeyAuthenticationHandler.KeyHeader, key);
        }

        return client.SendAsync(request);
    }

    private static IEnumerable<Exception> Flatten(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            yield return e;
            if (e is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Flatten))
                {
                    yield return inner;
                }
            }
        }
    }
}
