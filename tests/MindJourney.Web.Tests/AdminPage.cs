using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using MindJourney.Testing;
using static Microsoft.Playwright.Assertions;

namespace MindJourney.Web.Tests;

/// <summary>The researcher page (/admin) as a test sees it, on an API of its own that has an admin key, with every
/// request the page makes kept so a test can prove the key never went into a URL.</summary>
internal sealed class AdminPage
{
    public const string Key = "browser-admin-key-4d81e2-6c0f93a7b15e";
    public static readonly Dictionary<string, string?> WithAdminKey = new() { ["Admin:ApiKey"] = Key };

    private AdminPage(IPage page)
    {
        Page = page;
        Checks = new ParticipantPage(page);
        page.Request += (_, request) => Requests.Add(request);
    }

    public IPage Page { get; }

    /// <summary>The checks every screen of the site passes (contrast, labels, no sideways scrolling, Tab order).</summary>
    public ParticipantPage Checks { get; }

    public List<IRequest> Requests { get; } = [];

    public ILocator KeyField => Page.GetByLabel("Admin key");

    public ILocator SignInButton => Page.GetByRole(AriaRole.Button, new() { Name = "Sign in" });

    public ILocator SignInMessage => Page.Locator("#sign-in-message");

    public ILocator SignOutButton => Page.GetByRole(AriaRole.Button, new() { Name = "Sign out" });

    public ILocator Dashboard => Page.GetByRole(AriaRole.Heading, new() { Name = "Researcher page", Level = 1 });

    public ILocator ParticipantRows => Page.Locator("#participants-body tr");

    public ILocator LoadMore => Page.GetByRole(AriaRole.Button, new() { Name = "Load more" });

    public ILocator Audit => Page.Locator("#audit-report");

    public ILocator AuditSummary => Page.GetByTestId("audit-summary");

    public ILocator ActionRows => Page.Locator("#actions-body tr");

    public static async Task<AdminPage> OpenAsync(IBrowserContext context)
    {
        var admin = new AdminPage(await context.NewPageAsync());
        var response = await admin.Page.GotoAsync("/admin");
        Assert.Equal(200, response!.Status);
        await Expect(admin.KeyField).ToBeVisibleAsync();
        await Expect(admin.KeyField).ToBeFocusedAsync();
        return admin;
    }

    /// <summary>Signs in by keyboard alone: the key field has focus on arrival, Enter submits.</summary>
    public async Task SignInAsync(string key = Key)
    {
        await KeyField.PressSequentiallyAsync(key);
        await Page.Keyboard.PressAsync("Enter");
    }

    public async Task ExpectSignedInAsync()
    {
        await Expect(Dashboard).ToBeFocusedAsync();
        await Expect(SignOutButton).ToBeVisibleAsync();
        await Expect(AuditSummary).ToBeVisibleAsync();
        await Expect(ParticipantRows.First).ToBeVisibleAsync();
    }

    public Task<string?> StoredKeyAsync() => Page.EvaluateAsync<string?>("() => sessionStorage.getItem('mindjourney.adminKey')");

    /// <summary>The key went as a header only: no request URL of the page ever held it.</summary>
    public void ExpectKeyNeverInAUrl()
    {
        Assert.NotEmpty(Requests);
        Assert.All(Requests, r => Assert.DoesNotContain(Key, Uri.UnescapeDataString(r.Url), StringComparison.Ordinal));
        Assert.All(Requests, r => Assert.DoesNotContain(Key.ToUpperInvariant(), r.Url.ToUpperInvariant(), StringComparison.Ordinal));
    }

    /// <summary>A full-page screenshot <c>admin-{step}.png</c> in the run's screenshot folder; with
    /// <c>MINDJOURNEY_UPDATE_SCREENSHOTS=1</c> also in the repository's docs/images, which docs/RESEARCHERS.md shows (so an
    /// ordinary test run leaves the working tree as it found it).</summary>
    public async Task ScreenshotAsync(string step)
    {
        var name = $"admin-{step}.png";
        var bytes = await Page.ScreenshotAsync(new() { Path = Path.Combine(ChromiumFixture.ScreenshotDirectory, name), FullPage = true });
        await ChromiumFixture.UpdateDocsImageAsync(name, bytes);
    }

    public static async Task<JsonElement> StartSessionAsync(TestApi api)
    {
        var experimentId = await api.ActiveExperimentIdAsync();
        using var response = await api.Client.PostAsJsonAsync("/api/session", new { experimentId });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static async Task AnswerAsync(TestApi api, JsonElement session, string text)
    {
        using var response = await api.Client.PostAsJsonAsync("/api/response", new
        {
            sessionId = session.GetProperty("id").GetGuid(),
            levelId = "1",
            questionId = "q1",
            responseType = "text",
            responseData = new { text },
        });
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    public static async Task<JsonElement> AuditAsync(TestApi api)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/visitor-numbers/audit");
        request.Headers.Add("X-Admin-Key", Key);
        using var response = await api.Client.SendAsync(request);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }
}
