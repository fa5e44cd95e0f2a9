using Microsoft.Net.Http.Headers;

namespace MindJourney.Api.Infrastructure;

/// <summary>Headers that keep the participant page from being framed, leaking its URL (session ids) to other sites,
/// or running anything but its own scripts, and keep browsers from sniffing any response into another type.</summary>
public static class SecurityHeaders
{
    /// <summary>The page's own modules, styles, recorded media (blob:) and API; nothing inline, nothing foreign.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; " +
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) => app.Use((http, next) =>
    {
        // On starting, so that a response the exception handler cleared and rewrote still carries them.
        http.Response.OnStarting(() =>
        {
            var headers = http.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            // Development's API reference (/scalar) runs inline scripts; everything else is ours and needs none.
            // A route that set a stricter policy of its own (a downloaded file: sandbox) keeps it.
            if (!http.Request.Path.StartsWithSegments("/scalar"))
            {
                headers.TryAdd(HeaderNames.ContentSecurityPolicy, ContentSecurityPolicy);
                headers.XFrameOptions = "DENY";
            }

            return Task.CompletedTask;
        });

        return next(http);
    });
}
