using System.Net;
using System.Text.RegularExpressions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>Outside Development the API publishes no map of itself, and the participant page and everything the API
/// serves carry headers that keep it from being framed, leaking its address or being sniffed into another type.</summary>
[Collection(PostgresCollection.Name)]
public sealed partial class PageSecurityTests(PostgresServer postgres) : IAsyncLifetime
{
    private TestApi _api = null!;

    public async ValueTask InitializeAsync() => _api = await TestApi.StartAsync(postgres);

    public async ValueTask DisposeAsync() => await _api.DisposeAsync();

    [Theory]
    [InlineData("/scalar")]
    [InlineData("/scalar/v1")]
    [InlineData("/openapi/v1.json")]
    public async Task The_api_reference_is_not_served_in_production(string path)
    {
        using var response = await _api.Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task A_downloaded_file_keeps_its_sandbox_policy()
    {
        var session = await Uploads.NewSessionAsync(_api);
        var created = await Uploads.PostTextAsync(_api.Client, session.Id, "<script>alert(1)</script>");

        using var response = await _api.Client.GetAsync($"/api/download/{created.Id}",
            session.SessionSecret!);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("sandbox; default-src 'none'", Assert.Single(response.Headers.GetValues("Content-Security-Policy")));
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
    }

    [Theory]
    [InlineData("/", "text/html")]
    [InlineData("/index.html", "text/html")]
    [InlineData("/js/app.js", "text/javascript")]
    [InlineData("/css/app.css", "text/css")]
    [InlineData("/favicon.svg", "image/svg+xml")]
    public async Task The_page_and_its_assets_carry_the_security_headers(string path, string type)
    {
        using var response = await _api.Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(type, response.Content.Headers.ContentType?.MediaType);
        var policy = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
        var directives = policy.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("script-src 'self'", directives);
        Assert.Contains("frame-ancestors 'none'", directives);
        Assert.Contains("object-src 'none'", directives);
        Assert.DoesNotContain("unsafe-inline", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-eval", policy, StringComparison.Ordinal);
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
    }

    /// <summary>An MTurk ExternalQuestion HIT shows the study in a frame on MTurk's worker site: the sites named in
    /// <c>MindJourney:PageFraming:AllowedOrigins</c> may frame the participant page, never the researcher's.</summary>
    [Fact]
    public async Task Named_sites_may_frame_the_participant_page_and_never_the_researchers()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?>
        {
            ["MindJourney:PageFraming:AllowedOrigins"] = "https://worker.mturk.com, https://workersandbox.mturk.com",
        });

        foreach (var path in new[] { "/", "/index.html", "/js/app.js" })
        {
            using var page = await api.Client.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Contains("frame-ancestors https://worker.mturk.com https://workersandbox.mturk.com",
                Directives(page), StringComparer.Ordinal);
            Assert.False(page.Headers.Contains("X-Frame-Options"), $"{path} keeps X-Frame-Options, which would forbid every frame");
        }

        foreach (var path in new[] { "/admin/", "/admin/index.html" })
        {
            using var researcher = await api.Client.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, researcher.StatusCode);
            Assert.Contains("frame-ancestors 'none'", Directives(researcher), StringComparer.Ordinal);
            Assert.Equal("DENY", Assert.Single(researcher.Headers.GetValues("X-Frame-Options")));
        }
    }

    private static string[] Directives(HttpResponseMessage response) =>
        Assert.Single(response.Headers.GetValues("Content-Security-Policy"))
            .Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    [Theory]
    [InlineData("/api/experiment", HttpStatusCode.OK)]
    [InlineData("/api/session/00000000-0000-0000-0000-00000000beef", HttpStatusCode.Unauthorized)]
    [InlineData("/no-such-page", HttpStatusCode.NotFound)]
    public async Task Api_answers_and_errors_are_not_sniffed(string path, HttpStatusCode expected)
    {
        using var response = await _api.Client.GetAsync(path);

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
    }

    /// <summary>The policy forbids inline code, so the page must have none: no script without src, no event
    /// handler attribute, no style attribute or element, no javascript: URL.</summary>
    [Fact]
    public async Task The_page_has_nothing_inline_that_the_policy_would_block()
    {
        var html = await _api.Client.GetStringAsync("/");

        Assert.Matches(ModuleScript(), html);
        Assert.DoesNotMatch(InlineScript(), html);
        Assert.DoesNotMatch(EventHandler(), html);
        Assert.DoesNotMatch(InlineStyle(), html);
        Assert.DoesNotContain("javascript:", html, StringComparison.OrdinalIgnoreCase);
    }

    [GeneratedRegex("""<script\b[^>]*\bsrc=""", RegexOptions.IgnoreCase)]
    private static partial Regex ModuleScript();

    [GeneratedRegex("""<script\b(?![^>]*\bsrc=)""", RegexOptions.IgnoreCase)]
    private static partial Regex InlineScript();

    [GeneratedRegex("""<[a-z][^>]*\son[a-z]+\s*=""", RegexOptions.IgnoreCase)]
    private static partial Regex EventHandler();

    [GeneratedRegex("""<style\b|<[a-z][^>]*\sstyle\s*=""", RegexOptions.IgnoreCase)]
    private static partial Regex InlineStyle();
}
