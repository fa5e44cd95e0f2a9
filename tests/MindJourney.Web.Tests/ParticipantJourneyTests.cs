using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using MindJourney.Testing;
using static Microsoft.Playwright.Assertions;

namespace MindJourney.Web.Tests;

/// <summary>The whole participant journey in a real browser against the real API and database: Press Play, the
/// welcome toast, the tracker through four levels, a recorded video answer, and the completion screen, all with
/// one visitor number.</summary>
[Collection(BrowserCollection.Name)]
public sealed class ParticipantJourneyTests(PostgresServer postgres, ChromiumFixture chromium, SharedApiFixture shared,
    ITestOutputHelper output)
{
    [Fact]
    public async Task The_whole_journey_by_keyboard_shows_one_visitor_number_from_the_toast_to_the_completion_screen()
    {
        var api = await shared.GetAsync(postgres);
        var storage = api.Storage!;
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var page = await context.NewPageAsync();
        var pageErrors = new List<string>();
        page.PageError += (_, error) => pageErrors.Add(error);
        var participant = new ParticipantPage(page);
        var journey = Stopwatch.StartNew();

        // Start screen: reachable with Tab, started with Enter.
        await participant.OpenAsync();
        await participant.ExpectAccessibleAsync();
        await participant.ScreenshotAsync("01-start.png");
        await participant.TabToAsync(participant.PlayButton);
        await page.Keyboard.PressAsync("Enter");

        // The welcome toast is a polite live region; the tracker and the number agree.
        await Expect(participant.StatusRegion).ToHaveAttributeAsync("role", "status");
        await Expect(participant.StatusRegion).ToHaveAttributeAsync("aria-live", "polite");
        var number = await participant.WelcomeNumberAsync();
        await participant.ExpectTrackerAsync($"Visitor #{number} • Level 1 • 25% Complete");
        await participant.ExpectLevelAsync(1);
        await participant.ExpectAccessibleAsync();
        await participant.ScreenshotAsync("02-welcome-toast.png");

        var sessionId = Guid.Parse((await participant.StoredSessionIdAsync())!);
        var session = await participant.ReadSessionAsync(api.Client);
        Assert.Equal(number, session.GetProperty("visitorNumber").GetInt32());
        Assert.Equal(session.GetProperty("userId").GetString(), await participant.StoredUserIdAsync());

        // Level 1: one text answer. Focus is on the heading; Tab reaches the answer, then Continue.
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.GetByLabel("What brought you here today?")).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync("Curiosity <b>about</b> focus & attention");
        await participant.TabToAsync(participant.Continue);
        await page.Keyboard.PressAsync("Enter");

        // Level 2: two text answers, and the page refuses to go on with one missing.
        await participant.ExpectLevelAsync(2);
        await participant.ExpectTrackerAsync($"Visitor #{number} • Level 2 • 50% Complete");
        await page.Keyboard.PressAsync("Tab");
        await page.Keyboard.TypeAsync("Writing early in the morning.");
        await participant.TabToAsync(participant.Continue);
        await page.Keyboard.PressAsync("Enter");
        var second = page.GetByLabel("What usually breaks your focus?");
        await Expect(second).ToBeFocusedAsync();
        await Expect(second).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(page.GetByText("Please write an answer before you continue.")).ToBeVisibleAsync();
        await participant.ScreenshotAsync("03-level-2-validation.png");
        await page.Keyboard.TypeAsync("Notifications.");
        await participant.TabToAsync(participant.Continue);
        await page.Keyboard.PressAsync("Enter");

        // Level 3 asks for a video or voice answer.
        await participant.ExpectLevelAsync(3);
        await participant.ExpectTrackerAsync($"Visitor #{number} • Level 3 • 75% Complete");
        await participant.ExpectAccessibleAsync();
        await participant.ScreenshotAsync("04-level-3-video.png");

        // Everything so far is stored with the visitor's number (the text answers, as the page sent them).
        var textResponses = await ResponsesAsync(api, participant);
        Assert.Equal(["q1", "q2", "q3"], textResponses.Select(r => r.GetProperty("questionId").GetString()));
        Assert.All(textResponses, r =>
        {
            Assert.Equal(number, r.GetProperty("visitorNumber").GetInt32());
            Assert.Equal("text", r.GetProperty("responseType").GetString());
        });
        Assert.Equal("Curiosity <b>about</b> focus & attention",
            textResponses[0].GetProperty("responseData").GetProperty("text").GetString());

        // The video step (kept last among the assertions that can fail on their own): record about one second
        // with the fake camera, by keyboard, then upload it as multipart/form-data.
        var record = page.GetByTestId("record");
        await participant.TabToAsync(record);
        await page.Keyboard.PressAsync("Enter");
        var stop = page.GetByTestId("stop");
        await Expect(stop).ToBeFocusedAsync();
        await Expect(page.Locator("[data-testid=media-stage] video")).ToBeVisibleAsync();
        await page.WaitForTimeoutAsync(1100);
        await participant.ScreenshotAsync("05-level-3-recording.png");
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByTestId("playback")).ToBeVisibleAsync();
        await Expect(page.GetByTestId("media-status")).ToContainTextAsync("Recorded");
        await Expect(record).ToHaveTextAsync("Record again");
        await participant.ScreenshotAsync("06-level-3-recorded.png");

        await participant.TabToAsync(participant.Continue);
        var upload = await page.RunAndWaitForResponseAsync(
            () => page.Keyboard.PressAsync("Enter"),
            r => r.Request.Method == "POST" && r.Url.EndsWith("/api/response", StringComparison.Ordinal)
                 && r.Request.Headers.TryGetValue("content-type", out var type)
                 && type.StartsWith("multipart/form-data", StringComparison.Ordinal));
        if (upload.Status != 201)
        {
            await participant.ScreenshotAsync("07-level-3-upload-failed.png");
        }

        Assert.True(upload.Status == 201,
            $"The video upload (multipart POST /api/response) answered {upload.Status}, not 201: {await upload.TextAsync()}");
        var uploaded = await upload.JsonAsync();
        var videoId = uploaded!.Value.GetProperty("id").GetGuid();
        Assert.Equal("video", uploaded.Value.GetProperty("responseType").GetString());
        Assert.Equal(number, uploaded.Value.GetProperty("visitorNumber").GetInt32());
        Assert.Equal("stored", uploaded.Value.GetProperty("storage").GetProperty("status").GetString());

        // Level 4, then Finish: the completion screen names the same visitor.
        await participant.ExpectLevelAsync(4);
        await Expect(page.GetByTestId("upload-toast").Locator(".toast-message")).ToHaveTextAsync("Your video is uploaded.");
        await participant.ScreenshotAsync("07-level-4-uploaded-toast.png");
        await participant.ExpectTrackerAsync($"Visitor #{number} • Level 4 • 100% Complete");
        await page.Keyboard.PressAsync("Tab");
        await page.Keyboard.TypeAsync("Thanks!");
        await participant.TabToAsync(participant.Continue);
        await Expect(participant.Continue).ToHaveTextAsync("Finish");
        await page.Keyboard.PressAsync("Enter");

        await Expect(participant.CompleteHeading).ToHaveTextAsync($"Thank you, Visitor #{number}");
        await Expect(participant.CompleteHeading).ToBeFocusedAsync();
        await participant.ExpectAccessibleAsync();
        await participant.ScreenshotAsync("08-complete.png");
        journey.Stop();
        output.WriteLine($"Journey (open page → completion screen): {journey.Elapsed.TotalSeconds:F1} s");

        // The server agrees: a completed session, five responses with the number, the video stored and served.
        session = await participant.ReadSessionAsync(api.Client);
        Assert.True(session.GetProperty("isCompleted").GetBoolean());
        var responses = await ResponsesAsync(api, participant);
        Assert.Equal(["q1", "q2", "q3", "q4", "q5"], responses.Select(r => r.GetProperty("questionId").GetString()));
        Assert.All(responses, r => Assert.Equal(number, r.GetProperty("visitorNumber").GetInt32()));
        var video = Assert.Single(responses, r => r.GetProperty("responseType").GetString() == "video");
        Assert.Equal(videoId, video.GetProperty("id").GetGuid());
        Assert.Equal("stored", video.GetProperty("storage").GetProperty("status").GetString());
        var recorded = video.GetProperty("responseData");
        Assert.InRange(recorded.GetProperty("durationMs").GetInt32(), 500, 10_000);

        using var download = await participant.DownloadAsync(api.Client, videoId);
        Assert.True(download.IsSuccessStatusCode, $"GET /api/download/{videoId} answered {(int)download.StatusCode}");
        Assert.StartsWith("video/", download.Content.Headers.ContentType?.MediaType);
        var bytes = await download.Content.ReadAsByteArrayAsync();
        Assert.True(bytes.Length > 1000, $"The downloaded video has only {bytes.Length} bytes");
        Assert.Equal(recorded.GetProperty("size").GetInt64(), bytes.LongLength);
        Assert.Equal([0x1A, 0x45, 0xDF, 0xA3], bytes[..4]); // EBML: the page sent a real WebM recording

        // The object in storage carries the same number in its metadata.
        var objectName = video.GetProperty("storage").GetProperty("objectName").GetString()!;
        var stored = await storage.Client.GetObjectAsync(TestStorage.Bucket, objectName);
        Assert.Equal(number.ToString(System.Globalization.CultureInfo.InvariantCulture), stored.Metadata["visitorNumber"]);
        Assert.Equal(sessionId.ToString("D"), stored.Metadata["sessionId"]);
        Assert.Equal("video", stored.Metadata["responseType"]);
        Assert.Equal(bytes, await storage.DownloadAsync(objectName));
        Assert.Empty(pageErrors);
    }

    internal static async Task<List<JsonElement>> ResponsesAsync(TestApi api, ParticipantPage participant) =>
        [.. (await participant.ReadSessionAsync(api.Client, "/responses")).EnumerateArray()];
}
