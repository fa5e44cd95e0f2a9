using Microsoft.Net.Http.Headers;

namespace MindJourney.Api.Infrastructure;

/// <summary>Headers that keep the pages from being framed by sites nobody named, leaking their URLs (session ids) to
/// other sites, or running anything but their own scripts, and keep browsers from sniffing any response into another
/// type.</summary>
public static class SecurityHeaders
{
    /// <summary>The sites that may show the participant page in a frame: <c>AllowedOrigins</c>, a list or one value
    /// separated by commas or spaces, none by default. An MTurk ExternalQuestion HIT shows the study in a frame on
    /// MTurk's worker site, so a study recruited there names MTurk's origins (docs/RESEARCHERS.md).</summary>
    public const string FramingSection = "MindJourney:PageFraming";

    /// <summary>The page's own modules, styles, recorded media (blob:) and API; nothing inline, nothing foreign.</summary>
    private const string OwnContentOnly =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; " +
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'";

    /// <summary>The researcher's page (and its API) is never framed, whatever the participant page allows.</summary>
    private const string ResearcherPath = "/admin";

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app)
    {
        // Read and checked now, at start: an origin that is not one stops the start with the setting's name.
        var framers = FramingOrigins(app.ApplicationServices.GetRequiredService<IConfiguration>().GetSection(FramingSection));
        var unframed = Policy([]);
        var participantPage = Policy(framers);
        return app.Use((http, next) =>
        {
            // On starting, so that a response the exception handler cleared and rewrote still carries them.
            http.Response.OnStarting(() =>
            {
                var headers = http.Response.Headers;
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "no-referrer";
                // Development's API reference (/scalar) runs inline scripts; everything else is ours and needs none.
                // A route that set a stricter policy of its own (a downloaded file: sandbox) keeps it.
                var path = http.Request.Path;
                if (!path.StartsWithSegments("/scalar"))
                {
                    var researcher = path.StartsWithSegments(ResearcherPath) || path.StartsWithSegments("/api/admin");
                    headers.TryAdd(HeaderNames.ContentSecurityPolicy, researcher ? unframed : participantPage);
                    if (researcher || framers.Count == 0)
                    {
                        // X-Frame-Options cannot name sites: only where no site may frame (browsers that know
                        // frame-ancestors follow it and ignore this).
                        headers.XFrameOptions = "DENY";
                    }
                }

                return Task.CompletedTask;
            });

            return next(http);
        });
    }

    private static string Policy(IReadOnlyList<string> framers) =>
        $"{OwnContentOnly}; frame-ancestors {(framers.Count == 0 ? "'none'" : string.Join(' ', framers))}";

    /// <summary>Each entry an https origin (scheme, host and an optional port: no path, query or wildcard).</summary>
    private static List<string> FramingOrigins(IConfigurationSection section) =>
        TrustedProxies.ReadList(section, "AllowedOrigins").Select(value =>
            Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps && uri.PathAndQuery == "/"
                && !value.EndsWith('/') && uri.UserInfo.Length == 0 && !value.Contains('*')
                ? uri.GetLeftPart(UriPartial.Authority)
                : throw TrustedProxies.Invalid(section, "AllowedOrigins", value, "an https origin such as https://worker.mturk.com"))
            .ToList();
}
