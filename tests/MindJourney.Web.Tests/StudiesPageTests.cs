using System.Net;
using System.Net.Http.Json;
using Microsoft.Playwright;
using MindJourney.Testing;
using static Microsoft.Playwright.Assertions;

namespace MindJourney.Web.Tests;

/// <summary>The researcher page's Studies section in a real browser against the real API and database: a study
/// created through the form (after a refusal shown in place), opened, its participant link copied and played on the
/// participant page, its enrollment drawn with the balance per condition, and closed after the confirmation dialog
/// (a newcomer at its link then sees the closed screen);
/// on a desktop and at 360 px, where nothing may scroll sideways.</summary>
[Collection(BrowserCollection.Name)]
public sealed class StudiesPageTests(PostgresServer postgres, ChromiumFixture chromium)
{
    [Theory]
    [InlineData(1280)]
    [InlineData(360)]
    public async Task A_study_is_created_in_the_form_opened_shared_charted_and_closed_after_asking(int width)
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminPage.WithAdminKey); // numbers start at 1
        await using var context = await chromium.NewContextAsync(api.Hosts[0].ServerAddress, width: width, height: 900);
        await context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"]);
        var admin = await AdminPage.OpenAsync(context);
        await admin.SignInAsync();
        await admin.ExpectSignedInAsync();
        var page = admin.Page;
        var section = page.Locator("#studies");
        await Expect(section.Locator("article.study")).ToHaveCountAsync(1); // the seeded study

        // A refused study: the API's messages appear next to their fields and in the list at the top; nothing is created.
        await section.GetByRole(AriaRole.Button, new() { Name = "New study" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "New study" })).ToBeFocusedAsync();
        await page.GetByLabel("Title", new() { Exact = true }).FillAsync("Memory and mood");
        await page.GetByLabel("Link name").FillAsync("memory-mood");
        await page.GetByLabel("Conditions").FillAsync("control, treatment, control");
        await page.GetByLabel("Participant cap").FillAsync("200");
        await page.GetByLabel("Levels (JSON)").FillAsync("""
            [{"title": "Level 1", "questions": [{"id": "q1", "type": "text", "prompt": "How do you feel?"},
                                                {"id": "q1", "type": "text", "prompt": "And now?"}]}]
            """);
        await page.GetByRole(AriaRole.Button, new() { Name = "Create the study" }).ClickAsync();

        var errors = page.Locator("#study-form-errors");
        await Expect(errors).ToContainTextAsync("The study was not saved: 2 problems, each shown next to its field.");
        await Expect(errors.Locator("li")).ToHaveTextAsync([
            "levels[0].questions[1].id: Question id 'q1' is used twice in this level: ids are unique within a level.",
            "conditions[2]: Condition 'control' is listed twice: conditions are unique.",
        ]);
        await Expect(page.Locator("#study-conditions-error")).ToContainTextAsync("conditions[2]:");
        await Expect(page.Locator("#study-levels-error")).ToContainTextAsync("levels[0].questions[1].id:");
        await Expect(page.GetByLabel("Conditions")).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(page.GetByLabel("Conditions")).ToBeFocusedAsync();
        await Expect(page.GetByLabel("Title", new() { Exact = true })).Not.ToHaveAttributeAsync("aria-invalid", "true");
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM experiments"));
        await ExpectFitsAsync(admin);
        await ScreenshotAsync(page.Locator("#study-form"), $"study-form-error-{width}.png");

        // Mended and sent again: created as a draft, listed first with no one in it yet.
        await page.GetByLabel("Conditions").FillAsync("control, treatment");
        await page.GetByLabel("Levels (JSON)").FillAsync("""
            [{"title": "Level 1", "questions": [{"id": "q1", "type": "text", "prompt": "How do you feel?"}]}]
            """);
        await page.GetByRole(AriaRole.Button, new() { Name = "Create the study" }).ClickAsync();
        await Expect(page.Locator("#study-form")).ToBeHiddenAsync();
        var card = section.Locator("article.study[data-slug='memory-mood']");
        await Expect(section.Locator("article.study").First).ToHaveAttributeAsync("data-slug", "memory-mood");
        await Expect(card.GetByTestId("study-status")).ToHaveTextAsync("Draft");
        await Expect(card.Locator(".study-count")).ToHaveTextAsync("0 of 200 started, 0 completed");
        await Expect(card.Locator("dd").First).ToHaveTextAsync("control, treatment (cycle)");

        // Opened; its participant link copied, and it works on the participant page: the first person of the study.
        await card.GetByRole(AriaRole.Button, new() { Name = "Open", Exact = true }).ClickAsync();
        await Expect(card.GetByTestId("study-status")).ToHaveTextAsync("Open");
        await card.GetByRole(AriaRole.Button, new() { Name = "Copy participant link: Memory and mood" }).ClickAsync();
        var link = new Uri(api.Hosts[0].ServerAddress, "/?study=memory-mood").ToString();
        await Expect(page.Locator("#studies-status")).ToHaveTextAsync($"Participant link copied: {link}");
        Assert.Equal(link, await page.EvaluateAsync<string>("() => navigator.clipboard.readText()"));

        var participant = new ParticipantPage(await context.NewPageAsync());
        await participant.Page.GotoAsync(link);
        await participant.PlayButton.ClickAsync();
        Assert.Equal(1, await participant.WelcomeNumberAsync());
        await participant.Page.CloseAsync();

        // Five more people; then spread over three days (UTC) with the first three completed: control 3 (2 done),
        // treatment 3 (1 done), by the study's own numbers 1…6 in cycle.
        var studyId = await api.ScalarAsync<Guid>("SELECT id FROM experiments WHERE slug = 'memory-mood'");
        for (var i = 0; i < 5; i++)
        {
            using var played = await api.Client.PostAsJsonAsync("/api/session", new { experimentId = studyId });
            Assert.Equal(HttpStatusCode.Created, played.StatusCode);
        }

        await api.ExecuteAsync($"""
            UPDATE experiment_sessions SET
              created_at = timestamptz '2026-11-01 09:30Z' + (study_participant_number / 3) * interval '1 day'
                         + study_participant_number * interval '1 hour',
              is_completed = study_participant_number <= 3
            WHERE experiment_id = '{studyId}'
            """);
        await section.GetByRole(AriaRole.Button, new() { Name = "Refresh the studies" }).ClickAsync();
        await Expect(card.Locator(".study-count")).ToHaveTextAsync("6 of 200 started, 3 completed");
        await Expect(card.GetByRole(AriaRole.Progressbar, new() { Name = "Participants of Memory and mood: 6 of 200" }))
            .ToHaveAttributeAsync("value", "6");
        await ExpectFitsAsync(admin);
        await page.Mouse.MoveAsync(0, 0);
        await ScreenshotAsync(section, $"studies-{width}.png");

        // Edited: only what changed is sent (the levels, fixed now that people started, are not); a cap below the
        // people already started is refused next to its field; a cap above them is saved.
        await card.GetByRole(AriaRole.Button, new() { Name = "Edit" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Edit “Memory and mood”" })).ToBeFocusedAsync();
        await Expect(page.GetByLabel("Participant cap")).ToHaveValueAsync("200");
        await page.GetByLabel("Participant cap").FillAsync("3");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save the changes" }).ClickAsync();
        await Expect(page.Locator("#study-cap-error"))
            .ToHaveTextAsync("maxParticipants cannot go below the 6 people who have already started.");
        await Expect(page.GetByLabel("Participant cap")).ToBeFocusedAsync();
        await page.GetByLabel("Participant cap").FillAsync("100");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save the changes" }).ClickAsync();
        await Expect(page.Locator("#study-form")).ToBeHiddenAsync();
        await Expect(card.Locator(".study-count")).ToHaveTextAsync("6 of 100 started, 3 completed");

        // The chart draws (a canvas), the balance per condition is its text alternative, and the bucket switches.
        await card.GetByRole(AriaRole.Button, new() { Name = "Enrollment" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Enrollment: Memory and mood" })).ToBeFocusedAsync();
        await Expect(page.Locator("#enrollment-chart canvas")).ToHaveCountAsync(1);
        var balance = page.Locator("#enrollment-balance tbody tr");
        await Expect(balance).ToHaveCountAsync(2);
        await Expect(balance.Nth(0).Locator("th, td")).ToHaveTextAsync(["control", "3", "2"]);
        await Expect(balance.Nth(1).Locator("th, td")).ToHaveTextAsync(["treatment", "3", "1"]);
        await Expect(page.Locator("#enrollment-caption")).ToContainTextAsync("6 started, 3 completed");
        var perBucket = page.Locator("#enrollment-table tbody tr");
        await Expect(perBucket).ToHaveCountAsync(3); // 1, 2 and 3 November
        await Expect(perBucket.Nth(0).Locator("th, td")).ToHaveTextAsync(["1 Nov 2026", "2", "2"]);
        await page.GetByLabel("Hour").CheckAsync();
        await Expect(perBucket).ToHaveCountAsync(6);
        await Expect(perBucket.Nth(0).Locator("th, td")).ToHaveTextAsync(["1 Nov 2026, 10:00 UTC", "1", "1"]);
        await Expect(page.Locator("#enrollment-chart canvas")).ToHaveCountAsync(1);
        await page.GetByLabel("Day").CheckAsync();
        await Expect(perBucket).ToHaveCountAsync(3);
        await admin.Checks.ExpectAccessibleAsync();
        await ExpectFitsAsync(admin);
        await ScreenshotAsync(page.Locator("#enrollment"), $"enrollment-{width}.png");

        // Close asks first: Cancel leaves it open; the confirmation closes it, and a new person is refused.
        await card.GetByRole(AriaRole.Button, new() { Name = "Close…" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Close this study?" });
        await Expect(dialog).ToBeVisibleAsync();
        await Expect(dialog).ToContainTextAsync("New people who open the link of “Memory and mood” will be told it is closed.");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        await Expect(dialog).ToBeHiddenAsync();
        await Expect(card.GetByTestId("study-status")).ToHaveTextAsync("Open");
        await card.GetByRole(AriaRole.Button, new() { Name = "Close…" }).ClickAsync();
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Yes, close the study" }).ClickAsync();
        await Expect(card.GetByTestId("study-status")).ToHaveTextAsync("Closed");
        await Expect(card.GetByRole(AriaRole.Button, new() { Name = "Open", Exact = true })).ToBeVisibleAsync();
        await using var newcomer = await chromium.NewContextAsync(api.Hosts[0].ServerAddress, width: width, height: 900);
        var latecomer = await newcomer.NewPageAsync();
        await latecomer.GotoAsync(link);
        await Expect(latecomer.GetByRole(AriaRole.Heading, new() { Name = "This study is closed", Level = 1 })).ToBeVisibleAsync();
        using var refused = await api.Client.PostAsJsonAsync("/api/session", new { experimentId = studyId });
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains("/problems/study-closed", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("closed", await api.ScalarAsync<string>($"SELECT status FROM experiments WHERE id = '{studyId}'"));
        await page.CloseAsync(); // no request (the participants' refresh) is added while they are read
        admin.ExpectKeyNeverInAUrl();
    }

    /// <summary>Nothing scrolls sideways and every text is readable.</summary>
    private static async Task ExpectFitsAsync(AdminPage admin)
    {
        await admin.Checks.ExpectNoHorizontalScrollAsync();
        await admin.Checks.ExpectAccessibleAsync();
    }

    /// <summary>A screenshot of one part of the page, in the run's folder and (when updating) docs/images.</summary>
    private static async Task ScreenshotAsync(ILocator part, string name)
    {
        var png = await part.ScreenshotAsync(new() { Path = Path.Combine(ChromiumFixture.ScreenshotDirectory, name) });
        await ChromiumFixture.UpdateDocsImageAsync(name, png);
    }
}
