using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using MindJourney.Testing;
using static Microsoft.Playwright.Assertions;

namespace MindJourney.Web.Tests;

/// <summary>The researcher page in a real browser against the real API and database: sign-in (and a wrong key),
/// the participants table, the audit with a gap, the recovery and an export, by keyboard, at 360 px and on a desktop.
/// Each test has an API of its own (with an admin key), since several change the numbering.</summary>
[Collection(BrowserCollection.Name)]
public sealed partial class AdminPageTests(PostgresServer postgres, ChromiumFixture chromium)
{
    [Fact]
    public async Task Signing_in_shows_the_participants_newest_first_live_and_page_by_page_and_signing_out_forgets_the_key()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminPage.WithAdminKey);
        var sessions = new List<JsonElement>();
        for (var i = 0; i < 26; i++)
        {
            sessions.Add(await AdminPage.StartSessionAsync(api));
        }

        await AdminPage.AnswerAsync(api, sessions[^1], "first answer");
        await AdminPage.AnswerAsync(api, sessions[^1], "second answer");
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var admin = await AdminPage.OpenAsync(context);
        Assert.EndsWith("/admin/", admin.Page.Url, StringComparison.Ordinal);
        await admin.Checks.ExpectAccessibleAsync();
        await admin.ScreenshotAsync("sign-in");

        await admin.SignInAsync();
        await admin.ExpectSignedInAsync();
        Assert.Equal(AdminPage.Key, await admin.StoredKeyAsync());

        // Newest first, one page of 25, with the newest person's answers counted (text answers are stored files).
        await Expect(admin.ParticipantRows).ToHaveCountAsync(25);
        var newest = admin.ParticipantRows.First;
        await Expect(newest.Locator("th")).ToHaveTextAsync($"#{sessions[^1].GetProperty("visitorNumber").GetInt32()}");
        await Expect(newest.Locator("td").Nth(3)).ToHaveTextAsync("1 of 4");
        await Expect(newest.Locator("td").Nth(4)).ToHaveTextAsync("No");
        await Expect(newest.Locator("td").Nth(5)).ToHaveTextAsync("2");
        await Expect(newest.Locator("td").Nth(6)).ToHaveTextAsync("2");
        await admin.Checks.ExpectAccessibleAsync();
        await admin.ScreenshotAsync("participants");

        // Load more, by keyboard: the oldest participant follows; no more pages, so the button goes.
        await admin.Checks.TabToAsync(admin.LoadMore, maxPresses: 20);
        await admin.Page.Keyboard.PressAsync("Enter");
        await Expect(admin.ParticipantRows).ToHaveCountAsync(26);
        await Expect(admin.ParticipantRows.Last.Locator("th")).ToHaveTextAsync($"#{sessions[0].GetProperty("visitorNumber").GetInt32()}");
        await Expect(admin.LoadMore).ToBeHiddenAsync();
        await Expect(admin.Page.Locator("#participants-status")).ToHaveTextAsync("1 more participant loaded; 26 shown.");

        // Live: a participant who presses Play now appears at the top without a reload (within a few refreshes),
        // and progress moves; the rows loaded by hand stay.
        var late = await AdminPage.StartSessionAsync(api);
        await api.ExecuteAsync(
            $"UPDATE experiment_sessions SET is_completed = true, current_level = 4 WHERE id = '{sessions[^1].GetProperty("id")}'");
        await Expect(newest.Locator("th")).ToHaveTextAsync($"#{late.GetProperty("visitorNumber").GetInt32()}", new() { Timeout = 30_000 });
        await Expect(admin.ParticipantRows).ToHaveCountAsync(27);
        await Expect(admin.ParticipantRows.Nth(1).Locator("td").Nth(4)).ToHaveTextAsync("Yes");

        // Sign out: the key is forgotten and the page asks for it again.
        await admin.SignOutButton.ClickAsync();
        await Expect(admin.KeyField).ToBeFocusedAsync();
        await Expect(admin.Page.Locator("#sign-in-status")).ToHaveTextAsync("Signed out. The key is no longer kept in this tab.");
        await Expect(admin.Page.Locator("#dashboard")).ToBeHiddenAsync();
        Assert.Null(await admin.StoredKeyAsync());
        await admin.Page.ReloadAsync();
        await Expect(admin.KeyField).ToBeFocusedAsync();
        admin.ExpectKeyNeverInAUrl();
        Assert.Contains(admin.Requests, r => r.Url.Contains("/api/admin/participants", StringComparison.Ordinal)
            && r.Headers.TryGetValue("x-admin-key", out var sent) && sent == AdminPage.Key);
    }

    [Fact]
    public async Task A_wrong_key_is_refused_with_a_clear_message_and_nothing_of_it_is_kept()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminPage.WithAdminKey);
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress, width: 360, height: 780);
        var admin = await AdminPage.OpenAsync(context);

        await admin.SignInAsync("not-the-key");

        await Expect(admin.SignInMessage).ToHaveTextAsync("That admin key was not accepted (401 Unauthorized). Check it and try again.");
        await Expect(admin.SignInMessage).ToHaveAttributeAsync("role", "alert");
        await Expect(admin.KeyField).ToBeFocusedAsync();
        await Expect(admin.KeyField).ToHaveValueAsync("");
        await Expect(admin.KeyField).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(admin.Page.Locator("#dashboard")).ToBeHiddenAsync();
        Assert.Null(await admin.StoredKeyAsync());
        await admin.Checks.ExpectAccessibleAsync();
        await admin.Checks.ExpectNoHorizontalScrollAsync();
        await admin.ScreenshotAsync("wrong-key-360");

        // The right key still works afterwards.
        await admin.SignInAsync();
        await admin.ExpectSignedInAsync();
        await Expect(admin.SignInMessage).ToBeHiddenAsync();
    }

    [Fact]
    public async Task The_audit_shows_a_gap_in_the_numbers_and_the_balance_per_condition()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminPage.WithAdminKey);
        for (var i = 0; i < 3; i++)
        {
            await AdminPage.StartSessionAsync(api); // 1..3
        }

        // Numbers 4 and 5 are taken from the sequence but never held by anyone: a gap.
        await api.ExecuteAsync("SELECT setval('visitor_counter_sequence', 5)");
        var sixth = await AdminPage.StartSessionAsync(api);
        Assert.Equal(6, sixth.GetProperty("visitorNumber").GetInt32());

        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var admin = await AdminPage.OpenAsync(context);
        await admin.SignInAsync();
        await admin.ExpectSignedInAsync();

        await Expect(admin.AuditSummary).ToHaveTextAsync("Needs attention: 1 gap.");
        await Expect(admin.Audit.Locator("h3:text('Gaps') + ul li")).ToHaveTextAsync("#4 to #5 missing (2 numbers)");
        await Expect(admin.Audit.Locator("dd").First).ToHaveTextAsync("6"); // the sequence's position
        await Expect(admin.Audit).ToContainTextAsync("No number is held by two people.");

        // Balance per condition: exactly what the audit reports, when this server reports it.
        var audit = await AdminPage.AuditAsync(api);
        if (audit.TryGetProperty("conditions", out var conditions) && conditions.ValueKind == JsonValueKind.Array)
        {
            var rows = admin.Audit.Locator("[aria-labelledby=balance-heading] tbody tr");
            await Expect(rows).ToHaveCountAsync(conditions.GetArrayLength());
            foreach (var (condition, i) in conditions.EnumerateArray().Select((c, i) => (c, i)))
            {
                await Expect(rows.Nth(i).Locator("th")).ToHaveTextAsync(condition.GetProperty("condition").GetString()!);
                var started = condition.GetProperty("started").GetInt64().ToString("N0", CultureInfo.GetCultureInfo("en-GB"));
                await Expect(rows.Nth(i).Locator("td").First).ToHaveTextAsync(started);
            }
        }
        else
        {
            await Expect(admin.Audit).ToContainTextAsync("This server does not report conditions.");
        }

        await admin.Checks.ExpectAccessibleAsync();
        await admin.Page.Locator("#audit").ScrollIntoViewIfNeededAsync();
        await admin.ScreenshotAsync("audit-gap");

        await admin.Page.SetViewportSizeAsync(360, 780);
        await admin.Checks.ExpectNoHorizontalScrollAsync();
        await admin.Checks.ExpectAccessibleAsync();
        await admin.ScreenshotAsync("audit-gap-360");
    }

    [Fact]
    public async Task Recovery_asks_first_then_numbers_a_fallback_session_and_shows_what_it_changed()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminPage.WithAdminKey);
        await AdminPage.StartSessionAsync(api);
        await AdminPage.StartSessionAsync(api);
        await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence MAXVALUE 2");
        var fallback = await AdminPage.StartSessionAsync(api);
        Assert.Equal(JsonValueKind.Null, fallback.GetProperty("visitorNumber").ValueKind);
        await AdminPage.AnswerAsync(api, fallback, "answered before it had a number");
        await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence NO MAXVALUE");

        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var admin = await AdminPage.OpenAsync(context);
        var page = admin.Page;
        await admin.SignInAsync();
        await admin.ExpectSignedInAsync();
        await Expect(admin.ParticipantRows.First.Locator("th")).ToHaveTextAsync("No number yet");
        await Expect(admin.AuditSummary).ToHaveTextAsync("Needs attention: 1 session without a number.");
        await Expect(admin.ActionRows).ToHaveTextAsync(["Nothing recorded yet."]);

        // The first press only asks; Escape takes the question back without running anything.
        var start = page.GetByRole(AriaRole.Button, new() { Name = "Run recovery…" });
        var run = page.GetByRole(AriaRole.Button, new() { Name = "Yes, run recovery now" });
        await admin.Checks.TabToAsync(start, maxPresses: 30);
        await page.Keyboard.PressAsync("Enter");
        await Expect(run).ToBeFocusedAsync();
        await Expect(page.Locator("#recovery-confirm-text")).ToHaveTextAsync(
            "1 session is waiting for a number. Run the recovery now? It is recorded in the action log under your key's fingerprint.");
        await admin.Checks.ExpectAccessibleAsync();
        await page.Locator("#recovery").ScrollIntoViewIfNeededAsync();
        await admin.ScreenshotAsync("recovery-confirm");
        await page.Keyboard.PressAsync("Escape");
        await Expect(start).ToBeFocusedAsync();
        await Expect(run).ToBeHiddenAsync();
        Assert.Equal(0L, await api.ScalarAsync<long>("SELECT count(*) FROM admin_actions"));

        await page.Keyboard.PressAsync("Enter");
        await Expect(run).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Enter");

        await Expect(page.Locator("#recovery-status")).ToHaveTextAsync("Recovery finished: 1 new number given.");
        var figures = page.GetByTestId("recovery-figures");
        await Expect(figures.Locator("dd")).ToHaveTextAsync(["1", "1", "1", "0"]);
        var assigned = page.Locator("#recovery-result tbody tr");
        await Expect(assigned).ToHaveCountAsync(1);
        await Expect(assigned.Locator("td").Nth(0)).ToHaveTextAsync(fallback.GetProperty("id").GetString()!);
        await Expect(assigned.Locator("td").Nth(1)).ToHaveTextAsync("#3");
        await Expect(start).ToBeFocusedAsync();

        // Everything else on the page follows: the table, the audit and the action log.
        await Expect(admin.ParticipantRows.First.Locator("th")).ToHaveTextAsync("#3");
        await Expect(admin.AuditSummary).ToHaveTextAsync("All clear: no duplicates, no gaps, no mismatches.");
        var logged = admin.ActionRows.First.Locator("td");
        await Expect(logged.Nth(1)).ToHaveTextAsync("recovery");
        await Expect(logged.Nth(2)).ToHaveTextAsync(Fingerprint());
        await Expect(logged.Nth(3)).ToHaveTextAsync("1 new number given, 1 session looked at");
        await Expect(page.Locator("body")).Not.ToContainTextAsync(AdminPage.Key);
        Assert.Equal(3, await api.ScalarAsync<int>(
            $"SELECT visitor_number FROM experiment_sessions WHERE id = '{fallback.GetProperty("id")}'"));
        await admin.Checks.ExpectAccessibleAsync();
        await admin.ScreenshotAsync("recovery-result");

        await page.SetViewportSizeAsync(360, 780);
        await admin.Checks.ExpectNoHorizontalScrollAsync();
        await page.Locator("#recovery").ScrollIntoViewIfNeededAsync();
        await admin.ScreenshotAsync("recovery-result-360");
        admin.ExpectKeyNeverInAUrl();
    }

    [Fact]
    public async Task An_export_is_fetched_with_the_key_in_a_header_never_in_the_url_and_saved_or_its_failure_explained()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminPage.WithAdminKey);
        var session = await AdminPage.StartSessionAsync(api);
        await AdminPage.AnswerAsync(api, session, "exported answer");
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress, width: 360, height: 780);
        var admin = await AdminPage.OpenAsync(context);
        var page = admin.Page;
        var downloads = new System.Collections.Concurrent.ConcurrentQueue<IDownload>();
        page.Download += (_, download) => downloads.Enqueue(download);
        await admin.SignInAsync();
        await admin.ExpectSignedInAsync();

        // A range the wrong way round is refused on the page, before anything is asked of the server.
        var status = page.Locator("#export-status");
        await page.GetByLabel("From visitor number").FillAsync("5");
        await page.GetByLabel("To visitor number").FillAsync("2");
        await page.GetByRole(AriaRole.Button, new() { Name = "Download export" }).ClickAsync();
        await Expect(status).ToHaveTextAsync("\"To\" must not be smaller than \"From\".");
        await Expect(page.GetByLabel("To visitor number")).ToBeFocusedAsync();
        Assert.DoesNotContain(admin.Requests, r => r.Url.Contains("/api/admin/export", StringComparison.Ordinal));

        await page.GetByLabel("From visitor number").FillAsync("1");
        await page.GetByLabel("To visitor number").FillAsync("2");
        await page.GetByLabel("JSON Lines").CheckAsync();
        await page.GetByLabel("Which participants").SelectOptionAsync("all");
        var exported = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Download export" }).ClickAsync(),
            r => r.Url.Contains("/api/admin/export", StringComparison.Ordinal));

        // The request: the key as a header, only the choices in the URL.
        var request = exported.Request;
        Assert.Equal("GET", request.Method);
        Assert.Equal(AdminPage.Key, request.Headers["x-admin-key"]);
        Assert.Equal("/api/admin/export?format=jsonl&from=1&to=2&mode=all", new Uri(request.Url).PathAndQuery);
        admin.ExpectKeyNeverInAUrl();

        if (exported.Ok)
        {
            // The export endpoint is there: the file is saved under the server's name and the action is logged.
            await Expect(status).ToHaveTextAsync(DownloadedPattern());
            // The page says so as it hands the file to the browser; the browser's download event can follow a moment later.
            for (var polls = 0; downloads.IsEmpty && polls < 200; polls++)
            {
                await Task.Delay(50); // 10 s at most
            }

            var download = Assert.Single(downloads);
            Assert.EndsWith(".jsonl", download.SuggestedFilename, StringComparison.Ordinal);
            var saved = await File.ReadAllTextAsync((await download.PathAsync())!);
            Assert.Contains("exported answer", saved, StringComparison.Ordinal);
            await Expect(admin.ActionRows.First.Locator("td").Nth(1)).ToHaveTextAsync("export");
        }
        else
        {
            // Refused: the page says so with the server's status and explanation, and saves nothing.
            var problem = await exported.JsonAsync();
            await Expect(status).ToHaveTextAsync(
                $"The export failed. The server answered {exported.Status} ({problem!.Value.GetProperty("title").GetString()}). "
                + problem.Value.GetProperty("detail").GetString());
            Assert.Empty(downloads);
        }

        await admin.Checks.ExpectAccessibleAsync();
        await admin.Checks.ExpectNoHorizontalScrollAsync();
        await page.Locator("#export").ScrollIntoViewIfNeededAsync();
        await admin.ScreenshotAsync("export-360");
    }

    private static string Fingerprint() =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(AdminPage.Key)))[..16];

    [GeneratedRegex(@"^Downloaded \S+\.jsonl \(\d")]
    private static partial Regex DownloadedPattern();
}
