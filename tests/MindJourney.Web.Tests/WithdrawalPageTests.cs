using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using MindJourney.Testing;
using static Microsoft.Playwright.Assertions;

namespace MindJourney.Web.Tests;

/// <summary>Withdrawal in a real browser: the participant's "Withdraw my data" with its confirmation, the withdrawn
/// screen when an answer is refused because they withdrew elsewhere, and the researcher's search and "Withdraw…".
/// Each test has an API of its own: a withdrawal changes what the audit and the exports count.</summary>
[Collection(BrowserCollection.Name)]
public sealed class WithdrawalPageTests(PostgresServer postgres, ChromiumFixture chromium)
{
    [Fact]
    public async Task A_participant_withdraws_after_confirming_and_sees_that_their_data_was_withdrawn()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminPage.WithAdminKey);
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var page = await context.NewPageAsync();
        var participant = new ParticipantPage(page);
        await participant.OpenAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Withdraw my data" })).ToBeHiddenAsync();
        await participant.PlayButton.ClickAsync();
        await participant.WelcomeNumberAsync();
        await participant.AnswerTextLevelsAsync(1);
        await participant.ExpectLevelAsync(2);
        await Expect(participant.SaveState).ToHaveTextAsync("Saved");
        var userId = (await participant.StoredUserIdAsync())!;
        Assert.Equal(1, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses WHERE user_id = '{userId}'"));

        // Asked first: "No" changes nothing.
        var withdraw = page.GetByRole(AriaRole.Button, new() { Name = "Withdraw my data" });
        await withdraw.ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Withdraw your data?" });
        await Expect(dialog).ToBeVisibleAsync();
        await participant.ExpectAccessibleAsync();
        await participant.ScreenshotAsync("withdraw-confirm.png");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "No, keep going" }).ClickAsync();
        await Expect(dialog).ToBeHiddenAsync();
        await Expect(participant.LevelHeading).ToBeVisibleAsync();

        await withdraw.ClickAsync();
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Yes, withdraw my data" }).ClickAsync();
        await Expect(page.GetByTestId("withdrawn-heading")).ToHaveTextAsync("Your data was withdrawn");
        await Expect(withdraw).ToBeHiddenAsync();
        await participant.ExpectAccessibleAsync();
        await participant.ScreenshotAsync("withdrawn.png");
        Assert.Equal(0, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses WHERE user_id = '{userId}'"));
        Assert.NotNull(await api.ScalarAsync<DateTime?>($"SELECT withdrawn_at FROM users WHERE id = '{userId}'"));
        Assert.Null(await participant.StoredUserIdAsync()); // this browser forgets the person

        // A reload starts afresh: nothing of theirs is resumed.
        await page.ReloadAsync();
        await Expect(participant.PlayButton).ToBeVisibleAsync();
    }

    [Fact]
    public async Task An_answer_refused_because_the_person_withdrew_elsewhere_shows_the_withdrawn_screen_not_an_error()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminPage.WithAdminKey);
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var page = await context.NewPageAsync();
        var participant = new ParticipantPage(page);
        await participant.OpenAsync();
        await participant.PlayButton.ClickAsync();
        await participant.WelcomeNumberAsync();
        var userId = (await participant.StoredUserIdAsync())!;

        // Withdrawn by a researcher (or from another device) while this page is open.
        using (var request = new HttpRequestMessage(HttpMethod.Post, $"/api/admin/users/{userId}/withdraw"))
        {
            request.Headers.Add("X-Admin-Key", AdminPage.Key);
            using var response = await api.Client.SendAsync(request);
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }

        await participant.AnswerTextLevelsAsync(1);
        await Expect(page.GetByTestId("withdrawn-heading")).ToHaveTextAsync("Your data was withdrawn");
        await Expect(participant.ErrorToast).ToHaveCountAsync(0);
        // Dropped from the outbox, not retried: nothing waits to be sent, also after a reload.
        await Expect(participant.SaveState).ToHaveTextAsync("Saved");
        Assert.Equal(0, await page.EvaluateAsync<int>("""
            () => new Promise((resolve) => {
              const open = indexedDB.open("mindjourney-outbox");
              open.onsuccess = () => {
                const count = open.result.transaction("entries").objectStore("entries").count();
                count.onsuccess = () => resolve(count.result);
              };
            })
            """));
        Assert.Equal(0, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses WHERE user_id = '{userId}'"));
    }

    [Fact]
    public async Task A_researcher_finds_a_person_by_number_and_withdraws_them_after_confirming()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminPage.WithAdminKey);
        var sessions = new List<JsonElement>();
        for (var i = 0; i < 3; i++)
        {
            sessions.Add(await AdminPage.StartSessionAsync(api));
            await AdminPage.AnswerAsync(api, sessions[^1], $"answer {i + 1}");
        }

        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress);
        var admin = await AdminPage.OpenAsync(context);
        await admin.SignInAsync();
        await admin.ExpectSignedInAsync();

        var page = admin.Page;
        await page.GetByLabel("Visitor number", new() { Exact = true }).FillAsync("2");
        await page.GetByRole(AriaRole.Button, new() { Name = "Find" }).ClickAsync();
        var results = page.Locator("#withdraw-results tr");
        await Expect(results).ToHaveCountAsync(1);
        await Expect(results.Locator("th")).ToHaveTextAsync("Visitor #2");
        await Expect(results.GetByTestId("withdraw-state")).ToHaveTextAsync("Taking part");

        await page.SetViewportSizeAsync(360, 780);
        await admin.Checks.ExpectNoHorizontalScrollAsync();
        await page.SetViewportSizeAsync(1280, 900);
        await results.GetByRole(AriaRole.Button, new() { Name = "Withdraw…" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Withdraw this participant?" });
        await Expect(dialog).ToBeVisibleAsync();
        await dialog.GetByLabel("Reason").FillAsync("Consent withdrawn by e-mail");
        await admin.Checks.ExpectAccessibleAsync();
        await admin.ScreenshotAsync("withdraw-confirm");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Yes, erase their data" }).ClickAsync();

        await Expect(page.Locator("#withdraw-status")).ToHaveTextAsync("Visitor #2 is withdrawn: 1 answers and 1 files erased.");
        await Expect(results.GetByTestId("withdraw-state")).ToHaveTextAsync("Withdrawn");
        var row = admin.ParticipantRows.Filter(new() { Has = page.Locator("th", new() { HasTextString = "#2" }) });
        await Expect(row.Locator("td").Nth(4)).ToHaveTextAsync("Withdrawn");
        await Expect(row.Locator("td").Nth(5)).ToHaveTextAsync("0");
        await Expect(admin.ActionRows.First.Locator("td").Nth(1)).ToHaveTextAsync("withdrawal");
        var audit = await AdminPage.AuditAsync(api);
        Assert.Equal(1, audit.GetProperty("withdrawn").GetInt32());
        Assert.Empty(audit.GetProperty("gaps").EnumerateArray());
        var userId = sessions[1].GetProperty("userId").GetString();
        Assert.NotNull(await api.ScalarAsync<DateTime?>($"SELECT withdrawn_at FROM users WHERE id = '{userId}'"));
        Assert.Equal(2, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"));
    }
}
