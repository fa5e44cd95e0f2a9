using Microsoft.Extensions.Configuration;

namespace MindJourney.AppHost;

internal static class ApiSettings
{
    public const int DefaultPort = 5000;

    /// <summary>The AppHost's settings that the API reads: <c>MindJourney:RateLimit</c> (development turns the limits
    /// off, see appsettings.Development.json) and <c>MindJourney:ForwardedHeaders</c> (a proxy put in front of the
    /// AppHost), passed to every API replica.</summary>
    public static IResourceBuilder<ProjectResource> WithApiSettings(this IResourceBuilder<ProjectResource> api,
        IConfiguration configuration)
    {
        foreach (var section in new[] { "MindJourney:RateLimit", "MindJourney:ForwardedHeaders" })
        {
            foreach (var (key, value) in configuration.GetSection(section).AsEnumerable())
            {
                if (value is not null)
                {
                    api.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), value);
                }
            }
        }

        return api;
    }

    /// <summary>
    /// Where participants reach the API: <c>MindJourney:ApiPort</c> (default 5000) on localhost. Aspire's proxy in
    /// front of a project is a TCP proxy: it adds no <c>X-Forwarded-For</c>, so behind it the API would see one
    /// client, the proxy, and every participant would share one rate-limit budget. A single replica therefore
    /// listens on the port itself and sees each client's own address. Several replicas need the proxy to share the
    /// port; their limits then count all clients together, per replica, until a reverse proxy that does set
    /// <c>X-Forwarded-For</c> is put in front and named in <c>MindJourney:ForwardedHeaders:KnownProxies</c>. The
    /// Aspire proxy itself must never be named there: it passes a client's own header through untouched.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithParticipantEndpoint(this IResourceBuilder<ProjectResource> api,
        IConfiguration configuration, int replicas)
    {
        var port = configuration.GetValue("MindJourney:ApiPort", DefaultPort);
        return api.WithEndpoint("http", endpoint =>
        {
            endpoint.Port = port;
            if (replicas == 1)
            {
                endpoint.IsProxied = false;
                endpoint.TargetPort = port;
            }
        });
    }
}
