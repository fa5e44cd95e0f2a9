using MindJourney.Testing;
using static Microsoft.Playwright.Assertions;

namespace MindJourney.Web.Tests;

/// <summary>A researcher's trial run: the page opened with a study's pilot link (/?study={slug}&amp;pilot={token}) is
/// numbered from the pilot sequence and says so, and it is another person than the live visitor in the same browser.
/// Without the link's token there is no pilot: ?mode=pilot is the live page.</summary>
[Collection(BrowserCollection.Name)]
public sealed class PilotPageTests(PostgresServer postgres, ChromiumFixture chromium)
{
    [Fact]
    public async Task A_page_opened_with_a_pilot_link_shows_Pilot_1_and_leaves_the_live_numbers_alone()
    {
        await using var api = await TestApi.StartAsync(postgres); // its own database: pilot and live numbers start at 1
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var participant = new ParticipantPage(await context.NewPageAsync());

        var study = await api.ActiveExperimentIdAsync();
        await participant.Page.GotoAsync($"/?study=mindjourney&pilot={await api.PilotTokenAsync(study)}");
        await participant.PlayButton.ClickAsync();

        await Expect(participant.StatusToast).ToHaveTextAsync("Welcome, Pilot #1!");
        await participant.ExpectTrackerAsync("Pilot #1 • Level 1 • 25% Complete");
        await participant.ScreenshotAsync("pilot-welcome.png");
        Assert.Equal(0, await api.SequencePositionAsync());
        Assert.Equal("pilot", await api.ScalarAsync<string>("SELECT mode FROM experiment_sessions"));

        // The live page in the same browser does not resume the pilot: it is a new visitor with the first live number.
        await participant.OpenAsync();
        await participant.PlayButton.ClickAsync();
        Assert.Equal(1, await participant.WelcomeNumberAsync());
        await participant.ExpectTrackerAsync("Visitor #1 • Level 1 • 25% Complete");
        Assert.Equal(1, await api.SequencePositionAsync());

        // The old pilot address is the live page now: it resumes the live visitor, and starts no pilot.
        await participant.Page.GotoAsync("/?mode=pilot");
        await participant.ExpectTrackerAsync("Visitor #1 • Level 1 • 25% Complete");
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_sessions WHERE mode = 'pilot'"));
    }
}
