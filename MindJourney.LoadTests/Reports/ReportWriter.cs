using System.Globalization;
using System.Text;

namespace MindJourney.LoadTests.Reports;

/// <summary>Writes report.md, report.html, report.csv and report.json into a folder.</summary>
public static class ReportWriter
{
    public const string MarkdownFile = "report.md";
    public const string HtmlFile = "report.html";
    public const string CsvFile = "report.csv";
    public const string JsonFile = "report.json";

    private static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>The default folder: ./load-reports/&lt;UTC timestamp&gt;.</summary>
    public static string DefaultDirectory(DateTimeOffset now) =>
        Path.Combine(
            Directory.GetCurrentDirectory(),
            "load-reports",
            now.UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));

    /// <summary>Writes all four reports (creating the folder) and returns their full paths.</summary>
    public static IReadOnlyList<string> WriteAll(LoadTestResult result, string directory)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Directory.CreateDirectory(directory);
        var files = new (string Name, string Content)[]
        {
            (MarkdownFile, MarkdownReport.Render(result)),
            (HtmlFile, HtmlReport.Render(result)),
            (CsvFile, CsvReport.Render(result)),
            (JsonFile, ReportJson.Serialize(result)),
        };
        var paths = new List<string>();
        foreach (var (name, content) in files)
        {
            var path = Path.GetFullPath(Path.Combine(directory, name));
            File.WriteAllText(path, content, Utf8NoBom);
            paths.Add(path);
        }

        return paths;
    }
}
