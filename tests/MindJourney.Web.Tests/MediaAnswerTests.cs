using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using MindJourney.Testing;
using static Microsoft.Playwright.Assertions;

namespace MindJourney.Web.Tests;

/// <summary>The video/voice level beyond the happy path of the journey: a voice-only recording, a file that is
/// not media, the upload's progress, and an upload that storage will only take later.</summary>
[Collection(BrowserCollection.Name)]
public sealed class MediaAnswerTests(PostgresServer postgres, ChromiumFixture chromium)
{
    [Fact]
    public async Task A_voice_note_taken_while_storage_is_away_is_saved_and_the_page_says_it_will_finish_uploading()
    {
        // No storage configured: the API keeps the upload and answers storage.status "pending".
        await using var api = await TestApi.StartAsync(postgres);
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var participant = new ParticipantPage(await context.NewPageAsync());
        var page = participant.Page;
        await participant.OpenAsync();
        await participant.PlayButton.ClickAsync();
        var number = await participant.WelcomeNumberAsync();
        await participant.AnswerTextLevelsAsync(1, 2);
        await participant.ExpectLevelAsync(3);

        // Continue without an answer, then with a file that is not audio or video: both are refused in place.
        await participant.Continue.ClickAsync();
        await Expect(page.GetByText("Please record an answer, or choose a video or audio file.")).ToBeVisibleAsync();
        await page.GetByLabel("Choose a video or audio file").SetInputFilesAsync(new FilePayload
        {
            Name = "notes.txt",
            MimeType = "text/plain",
            Buffer = "not a recording"u8.ToArray(),
        });
        await Expect(page.GetByText("That file isn't a video or audio file. Please choose another.")).ToBeVisibleAsync();

        // Voice only: the microphone alone, recorded for about a second.
        await page.GetByLabel("Voice only (microphone)").CheckAsync();
        await page.GetByTestId("record").ClickAsync();
        await Expect(page.GetByTestId("stop")).ToBeFocusedAsync();
        await page.WaitForTimeoutAsync(1000);
        await page.GetByTestId("stop").ClickAsync();
        await Expect(page.Locator("audio[data-testid=playback]")).ToBeVisibleAsync();

        // Hold the upload's answer back a moment to see the upload state.
        var release = new TaskCompletionSource();
        await page.RouteAsync("**/api/response", async route =>
        {
            if (route.Request.Headers.TryGetValue("content-type", out var type) && type.StartsWith("multipart/", StringComparison.Ordinal))
            {
                await release.Task;
            }

            await route.ContinueAsync();
        });
        var upload = page.WaitForResponseAsync(r => r.Url.EndsWith("/api/response", StringComparison.Ordinal)
            && r.Request.Headers.TryGetValue("content-type", out var type) && type.StartsWith("multipart/", StringComparison.Ordinal));
        await participant.Continue.ClickAsync();
        await Expect(page.GetByTestId("upload")).ToContainTextAsync("Uploading your answer");
        await Expect(participant.Continue).ToBeDisabledAsync();
        await participant.ScreenshotAsync("16-voice-uploading.png");
        release.SetResult();

        var response = await upload;
        Assert.True(response.Status == 201,
            $"The voice upload (multipart POST /api/response) answered {response.Status}, not 201: {await response.TextAsync()}");
        var created = (await response.JsonAsync())!.Value;
        Assert.Equal("voice", created.GetProperty("responseType").GetString());
        Assert.Equal(number, created.GetProperty("visitorNumber").GetInt32());
        Assert.Equal("pending", created.GetProperty("storage").GetProperty("status").GetString());

        await participant.ExpectLevelAsync(4);
        await Expect(page.GetByTestId("upload-toast").Locator(".toast-message")).ToHaveTextAsync(
            "Your voice note is saved and will finish uploading in the background. Nothing is lost.");
        await participant.ExpectAccessibleAsync();
        await participant.ScreenshotAsync("17-voice-pending-toast.png");

        var responses = await ParticipantJourneyTests.ResponsesAsync(api, participant);
        var voice = Assert.Single(responses, r => r.GetProperty("responseType").GetString() == "voice");
        Assert.Equal(number, voice.GetProperty("visitorNumber").GetInt32());
        Assert.Equal("recording", voice.GetProperty("responseData").GetProperty("source").GetString());
        Assert.StartsWith("audio/", voice.GetProperty("responseData").GetProperty("mimeType").GetString());
    }
}
