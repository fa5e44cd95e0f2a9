using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace MindJourney.Api.Infrastructure;

/// <summary>
/// Who may say who the client is. Settings under <c>MindJourney:ForwardedHeaders</c>:
/// <list type="bullet">
/// <item><c>KnownProxies</c>: addresses of the reverse proxies or load balancers in front of the API (a list, or one
/// comma-separated value). Default: none.</item>
/// <item><c>KnownNetworks</c>: the same as CIDR ranges, e.g. <c>10.0.0.0/8</c>. Default: none.</item>
/// <item><c>ForwardLimit</c>: how many proxies in a row (entries of <c>X-Forwarded-For</c>, from the right) are
/// unwound; each must be known. Default: 1.</item>
/// </list>
/// Only a connection from a known proxy may replace the client address with its <c>X-Forwarded-For</c>; with none
/// configured, nobody may, so a client cannot pick a new address (and a fresh rate-limit budget) per request.
/// </summary>
public static class TrustedProxies
{
    public static IServiceCollection AddTrustedProxies(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TrustedProxiesOptions>().BindConfiguration(TrustedProxiesOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        // The lists are parsed now: an entry that is not an address or a range stops the start with the setting's name.
        var section = configuration.GetSection(TrustedProxiesOptions.SectionName);
        var proxies = ReadList(section, "KnownProxies").Select(value => IPAddress.TryParse(value, out var address)
            ? address
            : throw Invalid(section, "KnownProxies", value, "an IP address")).ToList();
        var networks = ReadNetworks(section, "KnownNetworks");

        // PostConfigure, so that the host's own switch (ASPNETCORE_FORWARDEDHEADERS_ENABLED, which trusts every peer)
        // cannot widen this. The framework's default trusts loopback; that is cleared too, as a proxy on the same
        // machine (Aspire's) is a TCP proxy that passes a client's own header through untouched.
        services.AddOptions<ForwardedHeadersOptions>().PostConfigure<IOptions<TrustedProxiesOptions>>((options, settings) =>
        {
            var forwardLimit = settings.Value.ForwardLimit;
            options.KnownProxies.Clear();
            options.KnownIPNetworks.Clear();
            proxies.ForEach(options.KnownProxies.Add);
            networks.ForEach(options.KnownIPNetworks.Add);
            options.ForwardLimit = forwardLimit;
            options.ForwardedHeaders = proxies.Count + networks.Count == 0 ? ForwardedHeaders.None : ForwardedHeaders.XForwardedFor;
        });

        return services;
    }

    /// <summary>First in the pipeline, so every later step (limits, logs) sees the resolved client.</summary>
    public static IApplicationBuilder UseTrustedProxies(this IApplicationBuilder app)
    {
        // With both lists empty the middleware would believe every peer: without a configured proxy it does not run.
        var options = app.ApplicationServices.GetRequiredService<IOptions<ForwardedHeadersOptions>>().Value;
        return options.ForwardedHeaders == ForwardedHeaders.None ? app : app.UseForwardedHeaders();
    }

    /// <summary>CIDR ranges (<c>10.0.0.0/8</c>) as <see cref="ReadList"/> reads them; one that is not stops the start
    /// with the setting's name.</summary>
    internal static List<System.Net.IPNetwork> ReadNetworks(IConfigurationSection section, string key) =>
        ReadList(section, key).Select(value => System.Net.IPNetwork.TryParse(value, out var network)
            ? network
            : throw Invalid(section, key, value, "a CIDR range such as 10.0.0.0/8")).ToList();

    /// <summary>A configuration list (<c>KnownProxies:0</c>, <c>KnownProxies:1</c>, ...) or one value separated by
    /// commas or spaces, the easier form for an environment variable.</summary>
    internal static IEnumerable<string> ReadList(IConfigurationSection section, string key)
    {
        var list = section.GetSection(key);
        var values = list.Value is { } single ? [single] : list.GetChildren().Select(c => c.Value ?? "");
        return values.SelectMany(v => v.Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    internal static InvalidOperationException Invalid(IConfigurationSection section, string key, string value, string expected) =>
        new($"{section.Path}:{key} has '{value}', which is not {expected}.");
}
