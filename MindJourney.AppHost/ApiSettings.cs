using Microsoft.Extensions.Configuration;

namespace MindJourney.AppHost;

internal static class ApiSettings
{
    public const int DefaultPort = 5000;

    /// <summary>The AppHost's settings that the API reads: <c>MindJourney:RateLimit</c> and the uploads-in-flight limit
    /// under <c>MindJourney:Storage</c> (development turns the per-client limits off for local load runs, see
    /// appsettings.Development.json), the rest of <c>MindJourney:Storage</c> (quotas, spool folder) and
    /// <c>MindJourney:ForwardedHeaders</c> (a proxy put in front of the AppHost) and <c>MindJourney:Health</c> (the
    /// numbering health check), passed to every API replica.</summary>
    public static IResourceBuilder<ProjectResource> WithApiSettings(this IResourceBuilder<ProjectResource> api,
        IConfiguration configuration)
    {
        foreach (var section in new[]
                 { "MindJourney:RateLimit", "MindJourney:Storage", "MindJourney:ForwardedHeaders", "MindJourney:Health" })
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
    /// port, and then all clients count together (per replica) unless a reverse proxy on this machine that writes
    /// <c>X-Forwarded-For</c> is the way in and loopback (<c>127.0.0.1,::1</c>) is named in
    /// <c>MindJourney:ForwardedHeaders:KnownProxies</c>: Aspire's proxy passes that header through as it gets it,
    /// so only a front proxy that writes it makes it worth believing.
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
