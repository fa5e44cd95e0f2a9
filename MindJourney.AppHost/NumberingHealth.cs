using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace MindJourney.AppHost;

/// <summary>
/// The API's numbering health as a health check of the api resource, so the dashboard shows the API Degraded, with
/// the reason, while a number is held twice, a session or response disagrees with its owner, or an upload has been
/// pending too long. Aspire's HTTP check on /health passes on any 200, Degraded included, and /health tells anyone
/// with the link only the status: the reason comes from the admin route, with the key the AppHost holds. Aspire asks
/// every 30 s while the API is healthy (then every few seconds until it is again).
/// </summary>
internal static class NumberingHealth
{
    public const string CheckName = "visitor-numbering";
    private const string ReportPath = "/api/admin/visitor-numbers/health";

    /// <summary>Longer than the API's own query timeout (10 s): a slow answer is the API's to report.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    public static IResourceBuilder<ProjectResource> WithNumberingHealthCheck(this IResourceBuilder<ProjectResource> api,
        IResourceBuilder<ParameterResource> adminApiKey)
    {
        var endpoint = api.GetEndpoint("http");
        var services = api.ApplicationBuilder.Services;
        // A request every few seconds while Degraded: not worth a log line each (and headers are never logged).
        services.AddHttpClient(CheckName).RemoveAllLoggers();
        services.AddHealthChecks().Add(new HealthCheckRegistration(CheckName,
            provider => new Check(provider.GetRequiredService<IHttpClientFactory>(), endpoint, adminApiKey.Resource),
            HealthStatus.Unhealthy, tags: null, Timeout));
        return api.WithHealthCheck(CheckName);
    }

    /// <summary>The API answers: /health is healthy (the database and storage checks), whatever the numbering says.
    /// What waits for the API to serve, rather than for it to be healthy in every respect, waits for this.</summary>
    public static bool Answers(ResourceEvent resourceEvent) =>
        resourceEvent.Snapshot.HealthReports is { Length: > 0 } reports
        && reports.All(report => report.Name == CheckName || report.Status == HealthStatus.Healthy);

    private sealed class Check(IHttpClientFactory httpClientFactory, EndpointReference endpoint, ParameterResource adminApiKey)
        : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(endpoint.Url), ReportPath));
            request.Headers.Add(AdminCommands.AdminKeyHeader, await adminApiKey.GetValueAsync(cancellationToken));
            using var response = await httpClientFactory.CreateClient(CheckName).SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return HealthCheckResult.Unhealthy($"{ReportPath} answered {(int)response.StatusCode} {response.ReasonPhrase}.");
            }

            var report = await response.Content.ReadFromJsonAsync<Report>(cancellationToken);
            return new HealthCheckResult(Enum.Parse<HealthStatus>(report!.Status), report.Reason);
        }
    }

    private sealed record Report(string Status, string? Reason);
}
