using System.Net.Http.Json;
using Microsoft.Playwright;
using MindJourney.Testing;
using static Microsoft.Playwright.Assertions;

namespace MindJourney.Web.Tests;

/// <summary>A panel's participant in Chromium: the page sends the ids on the study link with Play, and at the end shows
/// the completion screen with their number and a "Return to Prolific" button, and goes back to the panel by itself
/// after 5 s (the navigation intercepted, never performed), again after a reload, and another person's link on the
/// same computer starts that person; a SONA link with the study's own
/// parameter is read, and a study without a completion link thanks the participant instead.</summary>
[Collection(BrowserCollection.Name)]
public sealed class CompletionPageTests(PostgresServer postgres, ChromiumFixture chromium)
{
    [Fact]
    public async Task A_Prolific_participant_sees_their_number_and_is_sent_back_to_Prolific_after_5_s_also_after_a_reload()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminPage.WithAdminKey);
        await CreateStudyAsync(api, "prolific-study", "https://app.prolific.com/submissions/complete?cc=C0DE1234&pid={participantId}",
            sonaParameter: null);
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var left = new List<(string Url, DateTime At)>();
        await context.RouteAsync("https://app.prolific.com/**", async route =>
        {
            left.Add((route.Request.Url, DateTime.UtcNow));
            await route.FulfillAsync(new() { Status = 200, ContentType = "text/html", Body = "<p>Prolific</p>" });
        });
        var participant = new ParticipantPage(await context.NewPageAsync());
        const string Link = "/?study=prolific-study&PROLIFIC_PID=5f1a%20b&STUDY_ID=60aa&SESSION_ID=61bb";

        await participant.Page.GotoAsync(Link);
        await participant.PlayButton.ClickAsync();
        await participant.AnswerTextLevelsAsync(1);
        var shownAt = DateTime.UtcNow;

        await Expect(participant.CompleteHeading).ToHaveTextAsync("Thank you, Visitor #1");
        const string Back = "https://app.prolific.com/submissions/complete?cc=C0DE1234&pid=5f1a%20b";
        var button = participant.Page.GetByRole(AriaRole.Link, new() { Name = "Return to Prolific" });
        await Expect(button).ToHaveAttributeAsync("href", Back);
        await Expect(participant.Page.GetByText("taken back automatically in 5 seconds")).ToBeVisibleAsync();
        await participant.ExpectAccessibleAsync();
        await participant.ScreenshotAsync("completion-prolific.png");
        await participant.Page.WaitForURLAsync(Back, new() { Timeout = 10_000 });
        Assert.Equal(Back, Assert.Single(left).Url);
        Assert.True(left[0].At - shownAt >= TimeSpan.FromSeconds(4.5), $"redirected after {left[0].At - shownAt}");
        Assert.Equal("prolific 5f1a b 60aa 61bb", await api.ScalarAsync<string>(
            "SELECT concat_ws(' ', source, participant_id, panel_study_id, panel_session_id) FROM recruitments"));

        // The study link again (a reload): the completed session's screen, and the way back, once more.
        await participant.Page.GotoAsync(Link);
        await Expect(button).ToHaveAttributeAsync("href", Back);
        await participant.Page.WaitForURLAsync(Back, new() { Timeout = 10_000 });
        Assert.Equal(2, left.Count);
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_sessions"));

        // Another person's link on the same computer starts them, not the person before.
        await participant.Page.GotoAsync("/?study=prolific-study&PROLIFIC_PID=someone-else&STUDY_ID=60aa&SESSION_ID=62cc");
        await participant.PlayButton.ClickAsync();
        Assert.Equal(2, await participant.WelcomeNumberAsync());
    }

    [Fact]
    public async Task A_SONA_link_with_the_studys_parameter_is_read_and_a_study_without_a_link_shows_the_thank_you()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminPage.WithAdminKey);
        await CreateStudyAsync(api, "sona-study", completionUrl: null, sonaParameter: "survey_code");
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var participant = new ParticipantPage(await context.NewPageAsync());

        await participant.Page.GotoAsync("/?study=sona-study&survey_code=4711&id=not-this");
        await participant.PlayButton.ClickAsync();
        await participant.AnswerTextLevelsAsync(1);

        await Expect(participant.CompleteHeading).ToHaveTextAsync("Thank you, Visitor #1");
        await Expect(participant.Page.GetByText("You can close this page now.")).ToBeVisibleAsync();
        await Expect(participant.Page.GetByTestId("return-to-panel")).ToHaveCountAsync(0);
        Assert.Equal("sona 4711", await api.ScalarAsync<string>(
            "SELECT concat_ws(' ', source, participant_id, panel_study_id, panel_session_id) FROM recruitments"));
    }

    /// <summary>An open study of one text level, with the admin key.</summary>
    private static async Task CreateStudyAsync(TestApi api, string slug, string? completionUrl, string? sonaParameter)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/admin/experiments")
        {
            Content = JsonContent.Create(new
            {
                title = slug,
                slug,
                status = "open",
                levels = new[] { new { title = "Only", questions = new[] { new { id = "q1", type = "text", prompt = "How are you?" } } } },
                completionUrl,
                sonaParameter,
            }),
        };
        request.Headers.Add("X-Admin-Key", AdminPage.Key);
        using var response = await api.Client.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }
}
