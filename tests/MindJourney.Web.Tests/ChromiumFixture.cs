using Microsoft.Playwright;

namespace MindJourney.Web.Tests;

/// <summary>
/// Playwright (its .NET driver runs on the node binary that the Microsoft.Playwright package ships) driving the
/// machine's Chromium: Debian's <c>/usr/bin/chromium</c>, or the path in <c>MINDJOURNEY_CHROMIUM</c>. No browser is
/// downloaded. The fake media flags give getUserMedia a synthetic camera and microphone without a prompt.
/// </summary>
public sealed class ChromiumFixture : IAsyncLifetime
{
    public const string PathVariable = "MINDJOURNEY_CHROMIUM";
    private const string DefaultPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Where step screenshots go: <c>screenshots/</c> in the test output folder.</summary>
    public static string ScreenshotDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

    /// <summary>With <c>MINDJOURNEY_UPDATE_SCREENSHOTS=1</c>, the repository's docs/images, where the docs show the
    /// screenshots from; otherwise null, so an ordinary test run leaves the working tree as it found it.</summary>
    public static string? DocsImagesDirectory { get; } =
        Environment.GetEnvironmentVariable("MINDJOURNEY_UPDATE_SCREENSHOTS") == "1" ? FindDocsImagesDirectory() : null;

    /// <summary>Writes a screenshot the docs show into docs/images, when asked to (<see cref="DocsImagesDirectory"/>).</summary>
    public static async Task UpdateDocsImageAsync(string name, byte[] png)
    {
        if (DocsImagesDirectory is { } docs)
        {
            await File.WriteAllBytesAsync(Path.Combine(docs, name), png);
        }
    }

    private static string? FindDocsImagesDirectory()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "MindJourney.sln")))
            {
                return Directory.CreateDirectory(Path.Combine(folder.FullName, "docs", "images")).FullName;
            }
        }

        return null;
    }

    public async ValueTask InitializeAsync()
    {
        var path = Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } configured ? configured : DefaultPath;
        if (!File.Exists(path))
        {
            throw new InvalidOperationException(
                $"Chromium was not found at '{path}'. Install it (apt-get install -y chromium) or set {PathVariable} to its path.");
        }

        if (Directory.Exists(ScreenshotDirectory))
        {
            Directory.Delete(ScreenshotDirectory, recursive: true); // no stale steps from an earlier run
        }

        Directory.CreateDirectory(ScreenshotDirectory);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = path,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
            ],
        });
    }

    /// <summary>A new, isolated browser profile (own localStorage) on the API at <paramref name="baseUrl"/>.</summary>
    public async Task<IBrowserContext> NewContextAsync(Uri baseUrl, int width = 1280, int height = 900)
    {
        var context = await Browser.NewContextAsync(new()
        {
            BaseURL = baseUrl.ToString(),
            ViewportSize = new() { Width = width, Height = height },
            Permissions = ["camera", "microphone"],
            ReducedMotion = ReducedMotion.Reduce,
            Locale = "en-GB",
        });
        context.SetDefaultTimeout(15_000);
        return context;
    }

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
    }
}
