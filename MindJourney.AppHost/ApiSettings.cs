using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;

namespace MindJourney.AppHost;

internal static class ApiSettings
{
    public const int DefaultPort = 5000;
    public const string KnownProxiesParameter = "api-known-proxies";
    public const string KnownNetworksParameter = "api-known-networks";
    private const string TrustedProxiesPrefix = "MindJourney:ForwardedHeaders:Known";

    /// <summary>The AppHost's settings that the API reads: <c>MindJourney:RateLimit</c> and the uploads-in-flight limit
    /// under <c>MindJourney:Storage</c> (development turns the per-client limits off for local load runs, see
    /// appsettings.Development.json), the rest of <c>MindJourney:Storage</c> (quotas, spool folder) and
    /// <c>MindJourney:ForwardedHeaders</c> (a proxy put in front of the AppHost), <c>MindJourney:Health</c> (the
    /// numbering health check), <c>MindJourney:Telemetry</c> (the share of traces exported) and <c>MindJourney:Responses</c>
    /// (the answer list's page size in bytes), passed to every API replica.
    /// A published manifest leaves out what appsettings.Development.json says (<c>dotnet run</c> publishes as
    /// Development, and its limits are off), and takes the proxies from parameters (<see cref="WithProductionSettings"/>).</summary>
    public static IResourceBuilder<ProjectResource> WithApiSettings(this IResourceBuilder<ProjectResource> api,
        IConfiguration configuration)
    {
        var publishing = api.ApplicationBuilder.ExecutionContext.IsPublishMode;
        if (publishing && configuration is IConfigurationRoot root)
        {
            configuration = new ConfigurationRoot(root.Providers
                .Where(p => p is not JsonConfigurationProvider { Source.Path: "appsettings.Development.json" }).ToList());
        }

        foreach (var section in new[]
                 {
                     "MindJourney:RateLimit", "MindJourney:Storage", "MindJourney:ForwardedHeaders", "MindJourney:Health",
                     "MindJourney:Telemetry", "MindJourney:Responses",
                 })
        {
            foreach (var (key, value) in configuration.GetSection(section).AsEnumerable())
            {
                if (value is not null && !(publishing && key.StartsWith(TrustedProxiesPrefix, StringComparison.OrdinalIgnoreCase)))
                {
                    api.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), value);
                }
            }
        }

        return api;
    }

    /// <summary>
    /// In development the API shares the developer's cores with PostgreSQL, the dashboard and the orchestrator. .NET's
    /// server defaults assume the cores are the API's own: the server GC (a heap and a collecting thread per core) and
    /// idle thread-pool workers that spin for new work take the core a statement or the dashboard needed. <c>dotnet
    /// run</c> of the AppHost starts the API with the workstation GC and no spinning; a published manifest
    /// (production) keeps the defaults. Measured in docs/BENCHMARKS.md, "Open-model latency".
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithSharedMachineRuntime(this IResourceBuilder<ProjectResource> api) =>
        api.ApplicationBuilder.ExecutionContext.IsPublishMode
            ? api
            : api.WithEnvironment("DOTNET_gcServer", "0").WithEnvironment("DOTNET_ThreadPool_UnfairSemaphoreSpinLimit", "0");

    /// <summary><c>MindJourney:ApiReplicas</c>: how many API processes run (default 1); fewer than one stops the AppHost.</summary>
    public static int ApiReplicas(this IConfiguration configuration)
    {
        var replicas = configuration.GetValue("MindJourney:ApiReplicas", 1);
        return replicas is >= 1 and <= 64
            ? replicas
            : throw new DistributedApplicationException($"MindJourney:ApiReplicas is '{replicas}'; use 1 to 64.");
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
        if (api.ApplicationBuilder.ExecutionContext.IsPublishMode)
        {
            // The platform's ingress owns the public port; the container keeps Aspire's target port.
            return api;
        }

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

    /// <summary>
    /// Publish mode only (run mode is unchanged): the API runs as Production, with liveness (<c>/alive</c>) and
    /// readiness (<c>/health</c>, database and storage) probes for the platform, a 5 s drain after SIGTERM and a 25 s
    /// shutdown timeout (inside the platforms' usual 30 s grace period; see the API's GracefulShutdown), and without
    /// <c>ASPNETCORE_FORWARDEDHEADERS_ENABLED</c>, which Aspire gives every project and which would tell anyone's
    /// <c>X-Forwarded-For</c> to be believed (the API ignores it; the manifest should not say it either). The proxies
    /// whose header is believed are the parameters <c>api-known-proxies</c> and <c>api-known-networks</c>, empty
    /// unless the AppHost's <c>MindJourney:ForwardedHeaders</c> names some: set them to the platform's ingress.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithProductionSettings(this IResourceBuilder<ProjectResource> api,
        IConfiguration configuration)
    {
        var builder = api.ApplicationBuilder;
        if (!builder.ExecutionContext.IsPublishMode)
        {
            return api;
        }

        var proxies = builder.AddParameter(KnownProxiesParameter, Joined(configuration, "Proxies"), publishValueAsDefault: true);
        var networks = builder.AddParameter(KnownNetworksParameter, Joined(configuration, "Networks"), publishValueAsDefault: true);
#pragma warning disable ASPIREPROBES001 // Probes are experimental; the container platforms read them.
        return api
            .DisableForwardedHeaders()
            .WithEnvironment("ASPNETCORE_ENVIRONMENT", "Production")
            .WithEnvironment("MindJourney__Shutdown__DrainSeconds", "5")
            .WithEnvironment("MindJourney__Shutdown__TimeoutSeconds", "25")
            .WithEnvironment("MindJourney__ForwardedHeaders__KnownProxies", proxies)
            .WithEnvironment("MindJourney__ForwardedHeaders__KnownNetworks", networks)
            .WithHttpProbe(ProbeType.Liveness, "/alive", endpointName: "http")
            .WithHttpProbe(ProbeType.Readiness, "/health", endpointName: "http");
#pragma warning restore ASPIREPROBES001
    }

    /// <summary>A setting given as one value or as a list, as the API's one comma-separated value.</summary>
    private static string Joined(IConfiguration configuration, string list)
    {
        var section = configuration.GetSection(TrustedProxiesPrefix + list);
        return section.Value ?? string.Join(',', section.GetChildren().Select(c => c.Value));
    }
}
