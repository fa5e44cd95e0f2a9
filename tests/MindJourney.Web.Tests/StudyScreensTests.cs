using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using MindJourney.Testing;
using static Microsoft.Playwright.Assertions;

namespace MindJourney.Web.Tests;

/// <summary>A study that takes no one new shows the participant a calm screen of its own, not an error: full (its cap
/// reached, refused at Play), closed, not started yet (a draft), or a link that names no study. The heading takes
/// focus, no Play button is left, and nothing is half started: once the study takes people again, a reload plays.
/// The studies are set up through the admin API, as a researcher would.</summary>
[Collection(BrowserCollection.Name)]
public sealed class StudyScreensTests(PostgresServer postgres, ChromiumFixture chromium)
{
    private const string FullTitle = "This study is full — thank you for your interest";
    private const string ClosedTitle = "This study is closed";

    [Fact]
    public async Task A_full_study_says_so_at_Play_draws_no_number_and_plays_after_a_reload_once_its_cap_is_raised()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminPage.WithAdminKey);
        var study = await CreateStudyAsync(api, "one-seat", "open", maxParticipants: 1);
        using (var first = await api.Client.PostAsJsonAsync("/api/session", new { experimentId = study }))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode); // Visitor #1 takes the only seat
        }

        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress, width: 360, height: 740);
        var participant = new ParticipantPage(await context.NewPageAsync());
        await participant.Page.GotoAsync("/?study=one-seat");
        await participant.PlayButton.ClickAsync();

        await ExpectScreenAsync(participant, "study-full", FullTitle,
            "It already has all the participants it needs, so there is nothing more to do here. You can close this page.");
        await participant.ExpectNoHorizontalScrollAsync();
        await participant.ExpectAccessibleAsync();
        await participant.ScreenshotAsync("study-full-360.png", docs: true);

        // Nothing half started: no session or person kept, nothing waiting to be sent, no number drawn.
        Assert.Null(await participant.StoredSessionIdAsync());
        Assert.Null(await participant.StoredUserIdAsync());
        Assert.Equal(0, await OutboxCountAsync(participant.Page));
        Assert.Equal(1, await api.SequencePositionAsync());

        await PatchStudyAsync(api, study, new { maxParticipants = 2 });
        await participant.Page.ReloadAsync();
        await participant.PlayButton.ClickAsync();
        Assert.Equal(2, await participant.WelcomeNumberAsync());
        await participant.ExpectLevelAsync(1);
    }

    [Fact]
    public async Task A_study_closed_before_Play_shows_the_closed_screen_at_Play_and_on_load_and_plays_once_reopened()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminPage.WithAdminKey);
        var study = await CreateStudyAsync(api, "closing-soon", "open");
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var participant = new ParticipantPage(await context.NewPageAsync());
        await participant.Page.GotoAsync("/?study=closing-soon");
        await Expect(participant.PlayButton).ToBeVisibleAsync();

        // Closed while the page was open: Play is refused with 409 /problems/study-closed.
        await PatchStudyAsync(api, study, new { status = "closed" });
        await participant.PlayButton.ClickAsync();
        const string body = "It is not taking new participants any more. Thank you for your interest; you can close this page.";
        await ExpectScreenAsync(participant, "study-closed", ClosedTitle, body);
        await participant.ExpectAccessibleAsync();
        await participant.ScreenshotAsync("study-closed-1280.png", docs: true);
        Assert.Null(await participant.StoredSessionIdAsync());
        Assert.Equal(0, await OutboxCountAsync(participant.Page));
        Assert.Equal(0, await api.SequencePositionAsync());

        // Opened later with the same link: the page already knows, before anyone presses anything.
        await participant.Page.ReloadAsync();
        await ExpectScreenAsync(participant, "study-closed", ClosedTitle, body);

        await PatchStudyAsync(api, study, new { status = "open" });
        await participant.Page.ReloadAsync();
        await participant.PlayButton.ClickAsync();
        Assert.Equal(1, await participant.WelcomeNumberAsync());
        await participant.ExpectTrackerAsync("Visitor #1 • Level 1 • 50% Complete");
    }

    [Fact]
    public async Task A_draft_study_says_it_has_not_started_yet_and_an_unknown_study_link_says_it_is_not_valid()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminPage.WithAdminKey);
        await CreateStudyAsync(api, "coming-soon", "draft");
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress, width: 360, height: 740);
        var participant = new ParticipantPage(await context.NewPageAsync());

        await participant.Page.GotoAsync("/?study=coming-soon");
        await ExpectScreenAsync(participant, "study-not-open", "This study has not started yet",
            "Please come back later and open the same link again.");
        await participant.ExpectNoHorizontalScrollAsync();
        await participant.ExpectAccessibleAsync();

        // The API answers an unknown slug 404 /problems/study-not-found.
        await participant.Page.GotoAsync("/?study=nope");
        await ExpectScreenAsync(participant, "study-link-invalid", "This study link is not valid",
            "Please check that you opened the whole link you were given, or ask the researcher for it again.");
        await participant.ExpectNoHorizontalScrollAsync();
        Assert.Equal(0, await api.SequencePositionAsync());
    }

    /// <summary>The screen is shown with its words, its heading has keyboard focus, and there is nothing to press:
    /// no Play button, no error toast, no tracker.</summary>
    private static async Task<ILocator> ExpectScreenAsync(ParticipantPage participant, string testId, string title, string body)
    {
        var screen = participant.Page.GetByTestId(testId);
        var heading = screen.GetByRole(AriaRole.Heading, new() { Name = title, Level = 1 });
        await Expect(heading).ToBeVisibleAsync();
        await Expect(heading).ToBeFocusedAsync();
        await Expect(screen.Locator("p")).ToHaveTextAsync(body);
        await Expect(heading).ToHaveAccessibleDescriptionAsync(body);
        await Expect(participant.Page.Locator("#view button")).ToHaveCountAsync(0);
        await Expect(participant.PlayButton).ToHaveCountAsync(0);
        await Expect(participant.ErrorToast).ToHaveCountAsync(0);
        await Expect(participant.Page.Locator("#tracker")).ToBeHiddenAsync();
        return heading;
    }

    /// <summary>A study with two one-question levels, created through the admin API; its id.</summary>
    private static async Task<Guid> CreateStudyAsync(TestApi api, string slug, string status, int? maxParticipants = null)
    {
        var body = new
        {
            title = "Memory and mood",
            slug,
            status,
            maxParticipants,
            conditions = new[] { "control", "treatment" },
            levels = new[]
            {
                new { title = "Level 1", questions = new[] { new { id = "q1", type = "text", prompt = "How do you feel?" } } },
                new { title = "Level 2", questions = new[] { new { id = "q2", type = "text", prompt = "And now?" } } },
            },
        };
        using var response = await SendAdminAsync(api, HttpMethod.Post, "/api/admin/experiments", body);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private static async Task PatchStudyAsync(TestApi api, Guid id, object changes)
    {
        using var response = await SendAdminAsync(api, HttpMethod.Patch, $"/api/admin/experiments/{id}", changes);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    private static async Task<HttpResponseMessage> SendAdminAsync(TestApi api, HttpMethod method, string path, object body)
    {
        using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("X-Admin-Key", AdminPage.Key);
        return await api.Client.SendAsync(request);
    }

    /// <summary>Entries in the page's outbox (IndexedDB); 0 when it was never created.</summary>
    private static async Task<int> OutboxCountAsync(IPage page) => await page.EvaluateAsync<int>("""
        () => new Promise((resolve, reject) => {
          const open = indexedDB.open("mindjourney-outbox");
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            if (!open.result.objectStoreNames.contains("entries")) { open.result.close(); resolve(0); return; }
            const count = open.result.transaction("entries").objectStore("entries").count();
            count.onsuccess = () => { open.result.close(); resolve(count.result); };
          };
        })
        """);
}
