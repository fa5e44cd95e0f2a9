using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using MindJourney.Testing;
using static Microsoft.Playwright.Assertions;

namespace MindJourney.Web.Tests;

/// <summary>The participant page as a test sees it: its controls by role and name, its announcements, and a few
/// checks that hold on every screen (contrast, labels, no sideways scrolling).</summary>
internal sealed partial class ParticipantPage(IPage page)
{
    public IPage Page => page;

    public ILocator PlayButton => page.GetByRole(AriaRole.Button, new() { Name = "Press Play to Begin" });

    /// <summary>The polite live region (role=status) and the toast in it.</summary>
    public ILocator StatusRegion => page.Locator("#toast-status");

    public ILocator StatusToast => StatusRegion.Locator(".toast-message");

    /// <summary>The alert region (role=alert) and the error toast in it.</summary>
    public ILocator AlertRegion => page.Locator("#toast-alert");

    public ILocator ErrorToast => AlertRegion.GetByTestId("error-toast");

    public ILocator RetryButton => ErrorToast.GetByRole(AriaRole.Button, new() { Name = "Retry" });

    public ILocator Tracker => page.Locator("#tracker-text");

    public ILocator LevelHeading => page.GetByTestId("level-heading");

    public ILocator Continue => page.GetByTestId("continue");

    public ILocator CompleteHeading => page.GetByTestId("complete-heading");

    public async Task OpenAsync()
    {
        await page.GotoAsync("/");
        await Expect(PlayButton).ToBeVisibleAsync();
    }

    /// <summary>Waits for "Welcome, Visitor #N!" (or "Welcome back, …") and returns N.</summary>
    public async Task<int> WelcomeNumberAsync(bool back = false)
    {
        var pattern = back ? WelcomeBackPattern() : WelcomePattern();
        await Expect(StatusToast).ToHaveTextAsync(pattern);
        var match = pattern.Match(await StatusToast.InnerTextAsync());
        return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    public async Task ExpectTrackerAsync(string text)
    {
        await Expect(Tracker).ToBeVisibleAsync();
        await Expect(Tracker).ToHaveTextAsync(text);
    }

    /// <summary>The level heading is shown and has keyboard focus (it is where a new level starts).</summary>
    public async Task ExpectLevelAsync(int level)
    {
        await Expect(LevelHeading).ToHaveTextAsync(new Regex($"^Level {level}: "));
        await Expect(LevelHeading).ToBeFocusedAsync();
    }

    /// <summary>Answers every text question of the given levels (mouse and fill: the keyboard path has its own test).</summary>
    public async Task AnswerTextLevelsAsync(params int[] levels)
    {
        foreach (var level in levels)
        {
            await ExpectLevelAsync(level);
            var answers = page.Locator("textarea");
            for (var i = 0; i < await answers.CountAsync(); i++)
            {
                await answers.Nth(i).FillAsync($"Answer {i + 1} of level {level}");
            }

            await Continue.ClickAsync();
        }
    }

    public Task<string?> StoredAsync(string key) =>
        page.EvaluateAsync<string?>("key => localStorage.getItem(key)", key);

    public Task<string?> StoredSessionIdAsync() => StoredAsync("mindjourney.sessionId");

    public Task<string?> StoredUserIdAsync() => StoredAsync("mindjourney.userId");

    public Task<string?> StoredSessionSecretAsync() => StoredAsync("mindjourney.sessionSecret");

    /// <summary>GET of the page's current session (or a path below it), with the secret the page kept, as the
    /// page itself would read it.</summary>
    public async Task<System.Text.Json.JsonElement> ReadSessionAsync(HttpClient client, string below = "") =>
        await client.GetFromJsonAsync($"/api/session/{await StoredSessionIdAsync()}{below}", (await StoredSessionSecretAsync())!);

    public async Task<HttpResponseMessage> DownloadAsync(HttpClient client, Guid responseId) =>
        await client.GetAsync($"/api/download/{responseId}", (await StoredSessionSecretAsync())!);

    /// <summary>Presses Tab until <paramref name="target"/> has focus: proof that the keyboard alone gets there.</summary>
    public async Task TabToAsync(ILocator target, int maxPresses = 12)
    {
        for (var i = 0; i < maxPresses; i++)
        {
            await page.Keyboard.PressAsync("Tab");
            if (await target.EvaluateAsync<bool>("el => el === document.activeElement"))
            {
                return;
            }
        }

        var focused = await page.EvaluateAsync<string>("() => document.activeElement?.outerHTML.slice(0, 200) ?? '(none)'");
        Assert.Fail($"Tab did not reach {target} in {maxPresses} presses; focus is on {focused}");
    }

    /// <summary>A full-page screenshot in the run's screenshot folder; one the docs show (<paramref name="docs"/>) also
    /// goes to docs/images when screenshots are being updated.</summary>
    public async Task ScreenshotAsync(string name, bool docs = false)
    {
        var png = await page.ScreenshotAsync(new() { Path = Path.Combine(ChromiumFixture.ScreenshotDirectory, name), FullPage = true });
        if (docs)
        {
            await ChromiumFixture.UpdateDocsImageAsync(name, png);
        }
    }

    /// <summary>The line under the tracker that says whether the answers have arrived (a polite live region).</summary>
    public ILocator SaveState => page.GetByTestId("save-state");

    public ILocator SaveStateNote => page.GetByTestId("save-state-note");

    /// <summary>No sideways scrolling: the page is no wider than the viewport.</summary>
    public async Task ExpectNoHorizontalScrollAsync()
    {
        var widths = await page.EvaluateAsync<int[]>(
            "() => [document.documentElement.scrollWidth, document.body.scrollWidth, document.documentElement.clientWidth]");
        if (widths[0] > widths[2] || widths[1] > widths[2])
        {
            var culprits = await page.EvaluateAsync<string[]>("""
                () => [...document.body.querySelectorAll('*')]
                  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
                  .map(e => `${e.tagName.toLowerCase()}.${e.className} right=${Math.round(e.getBoundingClientRect().right)}`)
                  .slice(0, 10)
                """);
            Assert.Fail($"The page scrolls sideways: scrollWidth {widths[0]} (body {widths[1]}) > viewport {widths[2]}; "
                + $"wider than the viewport: {string.Join(", ", culprits)}");
        }
    }

    /// <summary>
    /// WCAG AA on what is on screen now: every visible text has contrast ≥ 4.5:1 against the background it is
    /// drawn on (3:1 for large text), every form control has a label and every button a name.
    /// </summary>
    public async Task ExpectAccessibleAsync()
    {
        var problems = await page.EvaluateAsync<string[]>(AccessibilityScript);
        Assert.True(problems.Length == 0, "Accessibility problems:\n" + string.Join("\n", problems));
    }

    private const string AccessibilityScript = """
        () => {
          const parse = (c) => {
            const m = /rgba?\(([^)]+)\)/.exec(c);
            if (!m) return null;
            const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
            return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
          };
          const blend = (top, bottom) => ({
            r: top.r * top.a + bottom.r * (1 - top.a), g: top.g * top.a + bottom.g * (1 - top.a),
            b: top.b * top.a + bottom.b * (1 - top.a), a: 1 });
          const luminance = ({ r, g, b }) => {
            const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
            return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
          };
          const backgroundOf = (element) => {
            const layers = [];
            for (let e = element; e; e = e.parentElement) {
              const c = parse(getComputedStyle(e).backgroundColor);
              if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
            }
            let result = { r: 255, g: 255, b: 255, a: 1 };
            for (const layer of layers.reverse()) result = blend(layer, result);
            return result;
          };
          const problems = [];
          const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
          while (walker.nextNode()) {
            const text = walker.currentNode.textContent.trim();
            const element = walker.currentNode.parentElement;
            if (!text || element.closest('[hidden], noscript, script, style, button:disabled, .skip-link')) continue;
            const rect = element.getBoundingClientRect();
            const style = getComputedStyle(element);
            if (rect.width === 0 || rect.height === 0 || style.visibility === 'hidden') continue;
            const bg = backgroundOf(element);
            const fg = blend(parse(style.color), bg);
            const [l1, l2] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
            const ratio = (l1 + 0.05) / (l2 + 0.05);
            const size = parseFloat(style.fontSize);
            const large = size >= 24 || (size >= 18.66 && parseInt(style.fontWeight, 10) >= 700);
            if (ratio < (large ? 3 : 4.5)) {
              const where = `${element.tagName.toLowerCase()}.${element.className}`;
              problems.push(`contrast ${ratio.toFixed(2)}:1 for "${text.slice(0, 40)}" (${where})`);
            }
          }
          for (const control of document.querySelectorAll('input, textarea, select')) {
            if (control.type === 'hidden' || control.closest('[hidden]')) continue;
            const named = control.labels?.length > 0 || control.getAttribute('aria-label') || control.getAttribute('aria-labelledby');
            if (!named) problems.push(`no label: ${control.outerHTML.slice(0, 120)}`);
          }
          for (const button of document.querySelectorAll('button')) {
            if (button.closest('[hidden]')) continue;
            if (!button.textContent.trim() && !button.getAttribute('aria-label')) {
              problems.push(`no name: ${button.outerHTML.slice(0, 120)}`);
            }
          }
          return problems;
        }
        """;

    [GeneratedRegex(@"^Welcome, Visitor #(\d+)!$")]
    private static partial Regex WelcomePattern();

    [GeneratedRegex(@"^Welcome back, Visitor #(\d+)!$")]
    private static partial Regex WelcomeBackPattern();
}
