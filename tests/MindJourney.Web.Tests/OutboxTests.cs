using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using MindJourney.Testing;
using static Microsoft.Playwright.Assertions;

namespace MindJourney.Web.Tests;

/// <summary>The page's outbox on a flaky connection: answers given offline are kept on the device through a reload and
/// sent, once each and in order, when the participant comes back; the line under the tracker always says which of
/// Saved, Saving… and offline holds; completion waits for the last answer; without IndexedDB the page says what that
/// means; an answer the API refuses for good is dropped with a note instead of holding back the rest.</summary>
[Collection(BrowserCollection.Name)]
public sealed class OutboxTests(PostgresServer postgres, ChromiumFixture chromium, SharedApiFixture shared)
{
    private const string Offline = "You are offline — your answers are kept on this device and will be sent when you are back";

    [Fact]
    public async Task Answers_given_offline_survive_a_reload_and_are_stored_once_in_order_when_the_study_link_is_opened_again()
    {
        var api = await shared.GetAsync(postgres);
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress, width: 360, height: 740);
        var page = await context.NewPageAsync();
        var participant = new ParticipantPage(page);
        var pageErrors = new List<string>();
        page.PageError += (_, error) => pageErrors.Add(error);
        var apiCalls = new ConcurrentQueue<string>(); // what reached the network, in order: "POST /api/response", …
        var created = new ConcurrentQueue<(string? Key, int Status)>();
        var sessionId = Guid.Empty;
        var secret = "";
        var journal = new ConcurrentQueue<string>(); // the API calls, their outcomes and the console, for a failure's message
        static bool IsApi(IRequest r) => new Uri(r.Url).AbsolutePath.StartsWith("/api/", StringComparison.Ordinal);
        static string Call(IRequest r) => $"{r.Method} {new Uri(r.Url).AbsolutePath} key={r.Headers.GetValueOrDefault("idempotency-key")}";
        void Note(string what) => journal.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {what}");
        context.Request += (_, request) =>
        {
            if (IsApi(request))
            {
                apiCalls.Enqueue($"{request.Method} {new Uri(request.Url).AbsolutePath}");
                Note(Call(request));
            }
        };
        context.RequestFailed += (_, request) => Note($"{Call(request)} failed: {request.Failure}");
        context.Console += (_, message) => Note($"console {message.Type}: {message.Text}");
        context.Response += (_, response) =>
        {
            if (IsApi(response.Request))
            {
                Note($"{Call(response.Request)} → {response.Status}");
            }

            if (response.Request.Method == "POST" && response.Url.EndsWith("/api/response", StringComparison.Ordinal))
            {
                created.Enqueue((response.Request.Headers.GetValueOrDefault("idempotency-key"), response.Status));
            }
        };
        async Task ExpectStoredAsync(params string[] questions)
        {
            var stored = await StoredQuestionsAsync(api, sessionId, secret);
            if (!stored.SequenceEqual(questions))
            {
                var rows = await api.ScalarAsync<string>("SELECT string_agg(concat_ws(' ', question_id, created_at, response_data), "
                    + $"E'\\n' ORDER BY created_at) FROM experiment_responses WHERE session_id = '{sessionId}'");
                Assert.Fail($"Stored {string.Join(", ", stored)}, not {string.Join(", ", questions)}.\nRows:\n{rows}\n"
                    + $"Requests:\n{string.Join("\n", journal)}");
            }
        }

        // Level 1 online: sent at once, and the line under the tracker says so.
        await participant.OpenAsync();
        await participant.PlayButton.ClickAsync();
        var number = await participant.WelcomeNumberAsync();
        await Expect(participant.SaveState).ToHaveAttributeAsync("role", "status");
        await Expect(participant.SaveState).ToHaveAttributeAsync("aria-live", "polite");
        await participant.AnswerTextLevelsAsync(1);
        await participant.ExpectLevelAsync(2);
        await Expect(participant.SaveState).ToHaveTextAsync("Saved");
        await participant.ExpectNoHorizontalScrollAsync();
        await participant.ExpectAccessibleAsync();
        await participant.ScreenshotAsync("outbox-saved-360.png", docs: true);
        sessionId = Guid.Parse((await participant.StoredSessionIdAsync())!);
        secret = (await participant.StoredSessionSecretAsync())!;

        // The network goes in the middle of level 2: the participant answers and goes on, to level 3 and past it.
        await page.GetByLabel("Describe a moment this week when you felt focused.").FillAsync("A quiet room.");
        await context.SetOfflineAsync(true);
        await page.GetByLabel("What usually breaks your focus?").FillAsync("My phone.");
        await participant.Continue.ClickAsync();
        await participant.ExpectLevelAsync(3);
        await Expect(participant.SaveState).ToHaveTextAsync(Offline);
        await participant.ExpectTrackerAsync($"Visitor #{number} • Level 3 • 75% Complete");
        await participant.ExpectNoHorizontalScrollAsync();
        await participant.ExpectAccessibleAsync();
        await participant.ScreenshotAsync("outbox-offline-360.png", docs: true);

        await page.GetByLabel("Voice only (microphone)").CheckAsync();
        await page.GetByTestId("record").ClickAsync();
        await Expect(page.GetByTestId("stop")).ToBeFocusedAsync();
        await page.WaitForTimeoutAsync(1000);
        await page.GetByTestId("stop").ClickAsync();
        await Expect(page.Locator("audio[data-testid=playback]")).ToBeVisibleAsync();
        await participant.Continue.ClickAsync();
        await participant.ExpectLevelAsync(4);
        await Expect(participant.SaveState).ToHaveTextAsync(Offline);

        // Kept on the device, the recording as a Blob; nothing of it has reached the server.
        Assert.Equal(["answer q2", "answer q3", "progress 3", "answer q4 Blob", "progress 4"], await OutboxEntriesAsync(page));
        await ExpectStoredAsync("q1");

        // A reload while offline: the browser cannot even load the page and shows its own offline page. The participant
        // closes the tab (Chromium may reload that page by itself once the network is back: this test wants one page
        // of ours sending at a time, as two at once are safe only with the API's replay of an Idempotency-Key).
        try
        {
            await page.ReloadAsync();
        }
        catch (PlaywrightException)
        {
            // net::ERR_INTERNET_DISCONNECTED
        }

        await Expect(page).ToHaveURLAsync(new Regex("^chrome-error://"));
        await page.CloseAsync();

        // The network is back and the participant opens the study link again. Hold the first answer a moment to see
        // the page say it is saving.
        await context.SetOfflineAsync(false);
        page = await context.NewPageAsync();
        page.PageError += (_, error) => pageErrors.Add(error);
        participant = new ParticipantPage(page);
        var release = new TaskCompletionSource();
        await page.RouteAsync("**/api/response", async route =>
        {
            await release.Task;
            await route.ContinueAsync();
        });
        apiCalls.Clear();
        await page.GotoAsync("/");
        await Expect(participant.SaveState).ToHaveTextAsync("Saving…");
        await Expect(participant.LevelHeading).ToHaveCountAsync(0);
        await participant.ExpectNoHorizontalScrollAsync();
        await participant.ExpectAccessibleAsync();
        await participant.ScreenshotAsync("outbox-saving-360.png", docs: true);
        release.SetResult();

        // What was left goes before anything else: the answers and steps in their order, then the session is read.
        Assert.Equal(number, await participant.WelcomeNumberAsync(back: true));
        await participant.ExpectLevelAsync(4);
        await Expect(participant.SaveState).ToHaveTextAsync("Saved");
        var session = $"/api/session/{sessionId}";
        Assert.Equal(["POST /api/response", "POST /api/response", $"PATCH {session}", "POST /api/response", $"PATCH {session}",
            $"GET {session}"], apiCalls.Take(6));
        await ExpectStoredAsync("q1", "q2", "q3", "q4");

        // Finish while offline again: no thank-you until the last answer has arrived.
        await page.GetByLabel("Anything else you would like to tell us?").FillAsync("Thanks!");
        await context.SetOfflineAsync(true);
        await participant.Continue.ClickAsync();
        await Expect(page.GetByTestId("completing-heading")).ToHaveTextAsync("Almost done");
        await Expect(participant.SaveState).ToHaveTextAsync(Offline);
        await Expect(participant.CompleteHeading).ToHaveCountAsync(0);
        await context.SetOfflineAsync(false);
        await Expect(participant.CompleteHeading).ToHaveTextAsync($"Thank you, Visitor #{number}");
        await Expect(participant.SaveState).ToHaveTextAsync("Saved");

        // Every answer stored once, in the order given, each sent with a key of its own; the session completed.
        await ExpectStoredAsync("q1", "q2", "q3", "q4", "q5");
        var stored = await ResponsesAsync(api, sessionId, secret);
        Assert.Equal(["A quiet room.", "My phone."],
            stored.Skip(1).Take(2).Select(r => r.GetProperty("responseData").GetProperty("text").GetString()));
        Assert.Equal("voice", stored[3].GetProperty("responseType").GetString());
        Assert.Equal(5, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses WHERE session_id = '{sessionId}'"));
        var accepted = created.Where(c => c.Status == 201).Select(c => c.Key).ToList();
        Assert.Equal(5, accepted.Count);
        Assert.All(accepted, key => Assert.True(key is { Length: >= 16 }, $"an answer went without a usable key: '{key}'"));
        Assert.Equal(5, accepted.Distinct().Count());
        Assert.True(await api.ScalarAsync<bool>($"SELECT is_completed FROM experiment_sessions WHERE id = '{sessionId}'"));
        Assert.Empty(await OutboxEntriesAsync(page));
        Assert.Empty(pageErrors);
    }

    [Fact]
    public async Task Without_IndexedDB_the_page_keeps_answers_in_memory_says_so_and_still_sends_them()
    {
        var api = await shared.GetAsync(postgres);
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress, width: 360, height: 740);
        // As in private modes that refuse IndexedDB.
        await context.AddInitScriptAsync(
            "IDBFactory.prototype.open = function () { throw new DOMException('IndexedDB is off', 'InvalidStateError'); };");
        var participant = new ParticipantPage(await context.NewPageAsync());

        await participant.OpenAsync();
        await participant.PlayButton.ClickAsync();
        await participant.WelcomeNumberAsync();
        await Expect(participant.SaveStateNote).ToHaveTextAsync(
            "This browser doesn't let the page keep your answers on this device (a private window, perhaps). "
            + "Please keep this page open until it says Saved.");
        await participant.AnswerTextLevelsAsync(1);
        await participant.ExpectLevelAsync(2);
        await Expect(participant.SaveState).ToHaveTextAsync("Saved");
        await participant.ExpectNoHorizontalScrollAsync();
        await participant.ExpectAccessibleAsync();
        await participant.ScreenshotAsync("outbox-memory-note-360.png");

        var sessionId = Guid.Parse((await participant.StoredSessionIdAsync())!);
        var secret = (await participant.StoredSessionSecretAsync())!;
        Assert.Equal(["q1"], await StoredQuestionsAsync(api, sessionId, secret));
        Assert.Equal(2, await api.ScalarAsync<int>($"SELECT current_level FROM experiment_sessions WHERE id = '{sessionId}'"));
    }

    [Fact]
    public async Task When_the_quota_refuses_a_file_the_page_says_so_and_the_file_is_still_sent_from_memory()
    {
        var api = await shared.GetAsync(postgres);
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress, width: 360, height: 740);
        var participant = new ParticipantPage(await context.NewPageAsync());
        var page = participant.Page;
        await participant.OpenAsync();
        // A device almost out of room: the text answers fit, a 2 MiB file does not.
        var cdp = await context.NewCDPSessionAsync(page);
        await cdp.SendAsync("Storage.overrideQuotaForOrigin", new Dictionary<string, object>
        {
            ["origin"] = api.Hosts[0].ServerAddress.GetLeftPart(UriPartial.Authority),
            ["quotaSize"] = 512 * 1024,
        });

        await participant.PlayButton.ClickAsync();
        await participant.WelcomeNumberAsync();
        await participant.AnswerTextLevelsAsync(1, 2);
        await participant.ExpectLevelAsync(3);
        await Expect(participant.SaveStateNote).ToBeHiddenAsync();
        var file = new byte[2 * 1024 * 1024];
        Random.Shared.NextBytes(file);
        await page.GetByLabel("Choose a video or audio file").SetInputFilesAsync(new FilePayload
        {
            Name = "answer.webm",
            MimeType = "audio/webm",
            Buffer = file,
        });
        await Expect(page.GetByTestId("media-status")).ToContainTextAsync("Chosen: answer.webm");
        await participant.Continue.ClickAsync();

        await participant.ExpectLevelAsync(4);
        await Expect(participant.SaveStateNote).ToHaveTextAsync(
            "This device has no room left to keep your answers, so the latest are kept only while this page is open. "
            + "Please keep it open until it says Saved.");
        await Expect(participant.SaveState).ToHaveTextAsync("Saved");
        var sessionId = Guid.Parse((await participant.StoredSessionIdAsync())!);
        var secret = (await participant.StoredSessionSecretAsync())!;
        var stored = await ResponsesAsync(api, sessionId, secret);
        Assert.Equal(["q1", "q2", "q3", "q4"], stored.Select(r => r.GetProperty("questionId").GetString()));
        Assert.Equal(file.Length, stored[3].GetProperty("responseData").GetProperty("size").GetInt64());
        Assert.Empty(await OutboxEntriesAsync(page));
    }

    [Fact]
    public async Task A_503_is_retried_after_its_Retry_After_with_the_same_key_while_the_participant_goes_on()
    {
        var api = await shared.GetAsync(postgres);
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var participant = new ParticipantPage(await context.NewPageAsync());
        var page = participant.Page;
        var keys = new ConcurrentQueue<string?>();
        await page.RouteAsync("**/api/response", async route =>
        {
            keys.Enqueue(await route.Request.HeaderValueAsync("idempotency-key"));
            if (keys.Count == 1)
            {
                await route.FulfillAsync(new()
                {
                    Status = 503,
                    ContentType = "application/problem+json",
                    Headers = new Dictionary<string, string> { ["Retry-After"] = "2" },
                    Body = """{"status":503,"title":"Service unavailable"}""",
                });
            }
            else
            {
                await route.ContinueAsync();
            }
        });

        await participant.OpenAsync();
        await participant.PlayButton.ClickAsync();
        await participant.WelcomeNumberAsync();
        await participant.AnswerTextLevelsAsync(1);

        // The participant is on level 2 at once, the answer waits its Retry-After, then arrives.
        await participant.ExpectLevelAsync(2);
        await Expect(participant.SaveState).ToHaveTextAsync("Saving…");
        await Expect(participant.SaveState).ToHaveTextAsync("Saved");
        var sessionId = Guid.Parse((await participant.StoredSessionIdAsync())!);
        var secret = (await participant.StoredSessionSecretAsync())!;
        Assert.Equal(["q1"], await StoredQuestionsAsync(api, sessionId, secret));
        Assert.Equal(2, await api.ScalarAsync<int>($"SELECT current_level FROM experiment_sessions WHERE id = '{sessionId}'"));
        var sent = keys.ToArray();
        Assert.Equal(2, sent.Length);
        Assert.True(sent[0] is { Length: >= 16 }, $"the answer went without a usable key: '{sent[0]}'");
        Assert.Equal(sent[0], sent[1]);
        await Expect(participant.ErrorToast).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task An_answer_the_API_refuses_for_good_is_dropped_with_a_note_and_the_answers_behind_it_still_arrive()
    {
        var api = await shared.GetAsync(postgres);
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var participant = new ParticipantPage(await context.NewPageAsync());
        var page = participant.Page;
        await page.RouteAsync("**/api/response", async route =>
        {
            if (route.Request.PostData?.Contains("\"questionId\":\"q2\"", StringComparison.Ordinal) == true)
            {
                await route.FulfillAsync(new()
                {
                    Status = 400,
                    ContentType = "application/problem+json",
                    Body = """{"status":400,"title":"Bad request","detail":"<b>responseData</b> is not accepted."}""",
                });
            }
            else
            {
                await route.ContinueAsync();
            }
        });

        await participant.OpenAsync();
        await participant.PlayButton.ClickAsync();
        await participant.WelcomeNumberAsync();
        await participant.AnswerTextLevelsAsync(1, 2);

        await participant.ExpectLevelAsync(3);
        await Expect(participant.ErrorToast).ToContainTextAsync(
            "We couldn't save your answer to “Describe a moment this week when you felt focused.” (level 2): "
            + "<b>responseData</b> is not accepted. It has been removed from this device; your other answers are not affected.");
        await Expect(participant.SaveState).ToHaveTextAsync("Saved");
        var sessionId = Guid.Parse((await participant.StoredSessionIdAsync())!);
        var secret = (await participant.StoredSessionSecretAsync())!;
        Assert.Equal(["q1", "q3"], await StoredQuestionsAsync(api, sessionId, secret));
        Assert.Equal(3, await api.ScalarAsync<int>($"SELECT current_level FROM experiment_sessions WHERE id = '{sessionId}'"));
        Assert.Empty(await OutboxEntriesAsync(page));
    }

    /// <summary>The outbox as the page keeps it in IndexedDB: "answer q2", "progress 3", "answer q4 Blob" (a file).</summary>
    private static async Task<string[]> OutboxEntriesAsync(IPage page) => await page.EvaluateAsync<string[]>("""
        () => new Promise((resolve, reject) => {
          const open = indexedDB.open("mindjourney-outbox");
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const all = open.result.transaction("entries").objectStore("entries").getAll();
            all.onsuccess = () => {
              open.result.close();
              resolve(all.result.map((e) => e.kind === "progress" ? `progress ${e.changes.currentLevel}`
                : `answer ${e.questionId}${e.file instanceof Blob ? " Blob" : ""}`));
            };
          };
        })
        """);

    /// <summary>The session's answers as the API lists them (oldest first), read with the session's secret.</summary>
    private static async Task<List<JsonElement>> ResponsesAsync(TestApi api, Guid sessionId, string secret) =>
        [.. (await api.Client.GetFromJsonAsync($"/api/session/{sessionId}/responses", secret)).EnumerateArray()];

    private static async Task<string?[]> StoredQuestionsAsync(TestApi api, Guid sessionId, string secret) =>
        [.. (await ResponsesAsync(api, sessionId, secret)).Select(r => r.GetProperty("questionId").GetString())];
}
