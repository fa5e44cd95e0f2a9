using MindJourney.Testing;
using static Microsoft.Playwright.Assertions;

namespace MindJourney.Web.Tests;

/// <summary>A researcher's trial run: the page opened with ?mode=pilot is numbered from the pilot sequence and says
/// so, and it is another person than the live visitor in the same browser.</summary>
[Collection(BrowserCollection.Name)]
public sealed class PilotPageTests(PostgresServer postgres, ChromiumFixture chromium)
{
    [Fact]
    public async Task A_page_opened_with_mode_pilot_shows_Pilot_1_and_leaves_the_live_numbers_alone()
    {
        await using var api = await TestApi.StartAsync(postgres); // its own database: pilot and live numbers start at 1
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var participant = new ParticipantPage(await context.NewPageAsync());

        await participant.Page.GotoAsync("/?mode=pilot");
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
    }
}
