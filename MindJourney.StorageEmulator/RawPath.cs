using Microsoft.AspNetCore.Http.Features;

namespace MindJourney.StorageEmulator;

/// <summary>
/// Object names are read from the raw request target, not from decoded route values: clients send them
/// percent-encoded as one path segment (<c>a%2Fb%20c</c>), and routing would treat <c>%2F</c> and <c>/</c> differently.
/// </summary>
internal static class RawPath
{
    /// <summary>The raw path (no query), as the client sent it.</summary>
    public static string Of(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (string.IsNullOrEmpty(raw))
        {
            return context.Request.PathBase.Add(context.Request.Path).ToUriComponent();
        }

        if (!raw.StartsWith('/') && Uri.TryCreate(raw, UriKind.Absolute, out var absolute))
        {
            raw = absolute.AbsolutePath; // absolute-form request target
        }

        var end = raw.IndexOfAny(['?', '#']);
        return end >= 0 ? raw[..end] : raw;
    }

    /// <summary>
    /// The decoded object name in any <c>…/b/{bucket}/o/{object}</c> path (<c>/b</c>, <c>/storage/v1/b</c>,
    /// <c>/download/storage/v1/b</c>, <c>/v0/b</c>). Unencoded slashes in the name are kept.
    /// </summary>
    public static string ObjectName(HttpContext context, string bucket)
    {
        var path = Of(context);
        var marker = "/b/" + bucket + "/o/";
        var at = path.IndexOf(marker, StringComparison.Ordinal);
        if (at < 0)
        {
            // The bucket itself was percent-encoded: decode segment by segment up to "/o/".
            marker = "/o/";
            at = path.IndexOf(marker, StringComparison.Ordinal);
            if (at < 0)
            {
                return "";
            }
        }

        return Uri.UnescapeDataString(path[(at + marker.Length)..]);
    }
}
