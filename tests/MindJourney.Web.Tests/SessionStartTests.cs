using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using MindJourney.Testing;
using static Microsoft.Playwright.Assertions;

namespace MindJourney.Web.Tests;

/// <summary>Press Play in the harder cases: a reload, a returning person resumed with their kept secret, two visitors
/// at once, numbering that fails, an API that refuses or whose answer is lost, a remembered visitor the server no
/// longer knows, and a small screen.</summary>
[Collection(BrowserCollection.Name)]
public sealed class SessionStartTests(PostgresServer postgres, ChromiumFixture chromium, SharedApiFixture shared)
{
    [Fact]
    public async Task A_reload_resumes_the_same_visitor_with_the_same_number_at_the_same_level()
    {
        var api = await shared.GetAsync(postgres);
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var participant = new ParticipantPage(await context.NewPageAsync());
        var page = participant.Page;

        await participant.OpenAsync();
        await participant.PlayButton.ClickAsync();
        var number = await participant.WelcomeNumberAsync();
        await participant.AnswerTextLevelsAsync(1);
        await participant.ExpectLevelAsync(2);
        var sessionId = await participant.StoredSessionIdAsync();
        var userId = await participant.StoredUserIdAsync();

        await page.ReloadAsync();

        Assert.Equal(number, await participant.WelcomeNumberAsync(back: true));
        await participant.ExpectTrackerAsync($"Visitor #{number} • Level 2 • 50% Complete");
        await participant.ExpectLevelAsync(2);
        await participant.ScreenshotAsync("09-reload-resumed.png");
        Assert.Equal(sessionId, await participant.StoredSessionIdAsync());
        Assert.Equal(userId, await participant.StoredUserIdAsync());
        Assert.Equal(1, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_sessions WHERE user_id = '{Guid.Parse(userId!)}'"));
    }

    [Fact]
    public async Task A_returning_person_whose_session_cannot_be_read_is_resumed_with_the_kept_secret_and_keeps_their_number()
    {
        var api = await shared.GetAsync(postgres);
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var participant = new ParticipantPage(await context.NewPageAsync());
        await participant.OpenAsync();
        await participant.PlayButton.ClickAsync();
        var number = await participant.WelcomeNumberAsync();
        var userId = await participant.StoredUserIdAsync();
        var firstSession = await participant.StoredSessionIdAsync();
        var proofs = new ConcurrentQueue<string?>();
        await participant.Page.RouteAsync("**/api/session", async route =>
        {
            proofs.Enqueue(await route.Request.HeaderValueAsync("x-session-secret"));
            await route.ContinueAsync();
        });

        // The kept session id no longer reads back (404): the page offers Play again, for the same person.
        await participant.Page.EvaluateAsync("id => localStorage.setItem('mindjourney.sessionId', id)", Guid.NewGuid().ToString());
        await participant.Page.ReloadAsync();
        await Expect(participant.PlayButton).ToBeVisibleAsync();
        await participant.PlayButton.ClickAsync();

        Assert.Equal(number, await participant.WelcomeNumberAsync());
        Assert.Equal(userId, await participant.StoredUserIdAsync());
        Assert.NotEqual(firstSession, await participant.StoredSessionIdAsync());
        Assert.False(string.IsNullOrEmpty(Assert.Single(proofs)), "the resume carried no secret");
        Assert.Equal(2, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_sessions WHERE user_id = '{Guid.Parse(userId!)}'"));
    }

    [Fact]
    public async Task Two_browsers_pressing_Play_at_once_get_two_different_numbers()
    {
        var api = await shared.GetAsync(postgres);
        await using var first = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        await using var second = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var participants = new[] { new ParticipantPage(await first.NewPageAsync()), new ParticipantPage(await second.NewPageAsync()) };
        await Task.WhenAll(participants.Select(p => p.OpenAsync()));

        await Task.WhenAll(participants.Select(p => p.PlayButton.ClickAsync()));
        var numbers = await Task.WhenAll(participants.Select(p => p.WelcomeNumberAsync()));

        // Nobody else starts sessions meanwhile (the collection's tests run one at a time): the next two numbers.
        Assert.Equal(1, Math.Abs(numbers[0] - numbers[1]));
        for (var i = 0; i < participants.Length; i++)
        {
            await participants[i].ExpectTrackerAsync($"Visitor #{numbers[i]} • Level 1 • 25% Complete");
        }

        Assert.NotEqual(await participants[0].StoredUserIdAsync(), await participants[1].StoredUserIdAsync());
    }

    [Fact]
    public async Task When_numbering_fails_the_session_still_starts_with_a_toast_without_a_number()
    {
        await using var api = await TestApi.StartAsync(postgres); // its own database: the sequence is changed
        var experimentId = await api.ActiveExperimentIdAsync();
        for (var i = 0; i < 2; i++)
        {
            using var created = await api.Client.PostAsJsonAsync("/api/session", new { experimentId });
            created.EnsureSuccessStatusCode();
        }

        // Two visitors have numbers 1 and 2; the sequence may not go past 2, so the next number cannot be taken.
        await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence MAXVALUE 2");
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var participant = new ParticipantPage(await context.NewPageAsync());

        await participant.OpenAsync();
        await participant.PlayButton.ClickAsync();

        await Expect(participant.StatusToast).ToHaveTextAsync("Session started");
        await participant.ExpectTrackerAsync("Level 1 • 25% Complete");
        await participant.ExpectLevelAsync(1);
        await Expect(participant.ErrorToast).ToHaveCountAsync(0);
        await participant.ScreenshotAsync("10-fallback-toast.png");
        var session = await participant.ReadSessionAsync(api.Client);
        Assert.Equal(JsonValueKind.Null, session.GetProperty("visitorNumber").ValueKind);
    }

    [Fact]
    public async Task A_refused_start_shows_an_error_toast_whose_Retry_succeeds_with_the_same_idempotency_key()
    {
        var api = await shared.GetAsync(postgres);
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var participant = new ParticipantPage(await context.NewPageAsync());
        var page = participant.Page;
        var keys = new ConcurrentQueue<string?>();
        await page.RouteAsync("**/api/session", async route =>
        {
            keys.Enqueue(await route.Request.HeaderValueAsync("idempotency-key"));
            if (keys.Count == 1)
            {
                await route.FulfillAsync(new()
                {
                    Status = 503,
                    ContentType = "application/problem+json",
                    Headers = new Dictionary<string, string> { ["Retry-After"] = "1" },
                    Body = """{"status":503,"title":"Service unavailable","detail":"<b>database</b> is down"}""",
                });
            }
            else
            {
                await route.ContinueAsync();
            }
        });

        await participant.OpenAsync();
        await participant.PlayButton.ClickAsync();

        await Expect(participant.AlertRegion).ToHaveAttributeAsync("role", "alert");
        await Expect(participant.ErrorToast).ToContainTextAsync("Something went wrong on our side");
        await Expect(participant.RetryButton).ToBeFocusedAsync();
        await Expect(participant.StatusToast).ToHaveCountAsync(0);
        await Expect(participant.PlayButton).ToBeEnabledAsync();
        await participant.ExpectAccessibleAsync();
        await participant.ScreenshotAsync("11-error-toast.png");

        await page.Keyboard.PressAsync("Enter"); // Retry has focus

        var number = await participant.WelcomeNumberAsync();
        await Expect(participant.ErrorToast).ToHaveCountAsync(0);
        await participant.ExpectTrackerAsync($"Visitor #{number} • Level 1 • 25% Complete");
        await participant.ScreenshotAsync("12-retry-welcome.png");
        var sent = keys.ToArray();
        Assert.Equal(2, sent.Length);
        Assert.False(string.IsNullOrEmpty(sent[0]));
        Assert.Equal(sent[0], sent[1]);
        var sessionId = Guid.Parse((await participant.StoredSessionIdAsync())!);
        Assert.Equal(ApiHost.StoredIdempotencyKey(sent[0]!),
            await api.ScalarAsync<string>($"SELECT idempotency_key FROM experiment_sessions WHERE id = '{sessionId}'"));
    }

    [Fact]
    public async Task A_start_whose_answer_is_lost_is_retried_into_the_same_session_and_number()
    {
        var api = await shared.GetAsync(postgres);
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var participant = new ParticipantPage(await context.NewPageAsync());
        var keys = new ConcurrentQueue<string?>();
        await participant.Page.RouteAsync("**/api/session", async route =>
        {
            keys.Enqueue(await route.Request.HeaderValueAsync("idempotency-key"));
            if (keys.Count == 1)
            {
                await route.FetchAsync(); // the server starts the session...
                await route.AbortAsync("connectionreset"); // ...but the page never hears back
            }
            else
            {
                await route.ContinueAsync();
            }
        });
        var positionBefore = await api.SequencePositionAsync();

        await participant.OpenAsync();
        await participant.PlayButton.ClickAsync();
        await Expect(participant.ErrorToast).ToContainTextAsync("couldn't reach MindJourney");
        var key = keys.First();
        var sessionsWithKey = $"SELECT count(*) FROM experiment_sessions WHERE idempotency_key = '{ApiHost.StoredIdempotencyKey(key!)}'";
        Assert.Equal(1, await api.ScalarAsync<long>(sessionsWithKey));
        await participant.RetryButton.ClickAsync();

        var number = await participant.WelcomeNumberAsync();
        Assert.Equal(positionBefore + 1, number);
        Assert.Equal(positionBefore + 1, await api.SequencePositionAsync());
        Assert.Equal(1, await api.ScalarAsync<long>(sessionsWithKey));
        Assert.Equal(2, keys.Count);
        Assert.All(keys, sent => Assert.Equal(key, sent));
    }

    [Fact]
    public async Task A_remembered_visitor_the_server_does_not_know_is_forgotten_and_a_fresh_one_starts()
    {
        var api = await shared.GetAsync(postgres);
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var participant = new ParticipantPage(await context.NewPageAsync());
        var stale = Guid.NewGuid().ToString();
        await participant.OpenAsync();
        await participant.Page.EvaluateAsync(
            "([user, session]) => { localStorage.setItem('mindjourney.userId', user); " +
            "localStorage.setItem('mindjourney.sessionId', session); }",
            new[] { stale, Guid.NewGuid().ToString() });

        await participant.Page.ReloadAsync(); // the stored session is unknown: the start screen again
        await Expect(participant.PlayButton).ToBeVisibleAsync();
        await participant.PlayButton.ClickAsync(); // the stored user is unknown too (404): forgotten, a fresh start

        var number = await participant.WelcomeNumberAsync();
        await Expect(participant.ErrorToast).ToHaveCountAsync(0);
        var userId = await participant.StoredUserIdAsync();
        Assert.NotEqual(stale, userId);
        var session = await participant.ReadSessionAsync(api.Client);
        Assert.Equal(userId, session.GetProperty("userId").GetString());
        Assert.Equal(number, session.GetProperty("visitorNumber").GetInt32());
    }

    [Fact]
    public async Task At_360_px_wide_the_page_has_no_horizontal_scroll()
    {
        var api = await shared.GetAsync(postgres);
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress, width: 360, height: 740);
        var participant = new ParticipantPage(await context.NewPageAsync());

        await participant.OpenAsync();
        await participant.ExpectNoHorizontalScrollAsync();
        await participant.ExpectAccessibleAsync();
        await participant.ScreenshotAsync("13-start-360px.png");

        await participant.PlayButton.ClickAsync();
        await participant.WelcomeNumberAsync();
        await participant.ExpectLevelAsync(1);
        await participant.ExpectNoHorizontalScrollAsync();
        await participant.ScreenshotAsync("14-level-1-360px.png");

        // The widest screen: the video level with its preview, controls and file picker.
        await participant.AnswerTextLevelsAsync(1, 2);
        await participant.ExpectLevelAsync(3);
        await participant.ExpectNoHorizontalScrollAsync();
        await participant.ExpectAccessibleAsync();
        await participant.ScreenshotAsync("15-level-3-360px.png");
    }
}
