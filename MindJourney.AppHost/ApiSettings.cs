using Microsoft.Extensions.Configuration;

namespace MindJourney.AppHost;

internal static class ApiSettings
{
    /// <summary>Passes the AppHost's <c>MindJourney:RateLimit</c> settings (development turns the limit off, see
    /// appsettings.Development.json) to every API replica.</summary>
    public static IResourceBuilder<ProjectResource> WithRateLimitSettings(this IResourceBuilder<ProjectResource> api, IConfiguration configuration)
    {
        foreach (var setting in configuration.GetSection("MindJourney:RateLimit").GetChildren())
        {
            if (setting.Value is { } value)
            {
                api.WithEnvironment($"MindJourney__RateLimit__{setting.Key}", value);
            }
        }

        return api;
    }
}
