using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Hosting;
using MindJourney.Api.Sessions;

namespace MindJourney.Api.Tests;

/// <summary>docs/CONFIGURATION.md is the one list of settings: a setting the code reads and the page does not name
/// fails here, so the page cannot fall behind the code.</summary>
public sealed partial class ConfigurationDocsTests
{
    private static readonly string Root = RepositoryRoot();
    private static readonly string Page = File.ReadAllText(Path.Combine(Root, "docs", "CONFIGURATION.md"));

    [Fact]
    public void Every_property_of_every_options_class_is_listed()
    {
        var keys = OptionsKeys(typeof(IdempotencyOptions).Assembly).Concat(OptionsKeys(typeof(TraceSampling).Assembly)).ToList();

        Assert.Contains("MindJourney:Idempotency:SigningKey", keys); // the reflection finds the options classes
        AllListed(keys, Names);
    }

    [Fact]
    public void Every_setting_key_written_in_the_api_and_service_defaults_source_is_listed()
    {
        var keys = SourceKeys("MindJourney.Api").Concat(SourceKeys("MindJourney.ServiceDefaults")).ToList();

        Assert.Contains("MindJourney:Telemetry:TraceSampleRatio", keys);
        AllListed(keys, Names);
    }

    [Fact]
    public void Every_apphost_setting_and_parameter_is_listed()
    {
        var folder = Path.Combine(Root, "MindJourney.AppHost");
        var settings = Directory.GetFiles(folder, "appsettings*.json")
            .SelectMany(file => JsonKeys(JsonDocument.Parse(File.ReadAllText(file)).RootElement, ""))
            .Where(key => key.StartsWith("MindJourney:", StringComparison.Ordinal));
        var source = Directory.GetFiles(folder, "*.cs", SearchOption.AllDirectories)
            .Where(file => !file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(File.ReadAllText).ToList();
        // Keys written out ("MindJourney:Postgres"), and parameters (AddParameter("admin-api-key") or a *Parameter const).
        var keys = source.SelectMany(text => SettingLiteral().Matches(text).Select(m => m.Groups[1].Value));
        var parameters = source.SelectMany(text => ParameterName().Matches(text).Select(m => m.Groups["name"].Value)).ToList();
        // A section read key by key: GetSection("MindJourney:LoadTest") then settings["Users"].
        var sectionKeys = source.SelectMany(text => SectionGet().Matches(text).SelectMany(section =>
            SectionIndexer().Matches(text).Select(key => $"{section.Groups[1].Value}:{key.Groups[1].Value}")));

        Assert.Contains("admin-api-key", parameters);
        Assert.Contains("MindJourney:LoadTest:Users", sectionKeys);
        AllListed(settings.Concat(sectionKeys), Names);
        AllListed(keys, key => Page.Contains($"`{key}", StringComparison.Ordinal));
        AllListed(parameters, name => Page.Contains($"`{name}`", StringComparison.Ordinal));
    }

    private static void AllListed(IEnumerable<string> keys, Func<string, bool> listed)
    {
        var missing = keys.Where(key => !listed(key)).Distinct().ToList();
        Assert.True(missing.Count == 0, $"Not in docs/CONFIGURATION.md: {string.Join(", ", missing)}");
    }

    /// <summary><c>Section:Property</c> for every public settable property of a class with a
    /// <c>public const string SectionName</c>.</summary>
    private static IEnumerable<string> OptionsKeys(Assembly assembly) =>
        from type in assembly.GetTypes()
        let section = type.GetField("SectionName", BindingFlags.Public | BindingFlags.Static)
        where section is { IsLiteral: true } && section.FieldType == typeof(string)
        from property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
        where property.SetMethod is { IsPublic: true }
        select $"{section.GetRawConstantValue()}:{property.Name}";

    /// <summary>Keys written as string literals (<c>"MindJourney:Database:MaxPoolSize"</c>), and keys read from a
    /// section by name in a file that declares that section (<c>section.GetValue("DrainSeconds", 0.0)</c>).</summary>
    private static IEnumerable<string> SourceKeys(string project)
    {
        var files = Directory.GetFiles(Path.Combine(Root, project), "*.cs", SearchOption.AllDirectories)
            .Where(file => !file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !file.Contains("Migrations", StringComparison.Ordinal));
        foreach (var text in files.Select(File.ReadAllText))
        {
            foreach (Match literal in SettingLiteral().Matches(text))
            {
                yield return literal.Groups[1].Value;
            }

            var section = SectionNameConst().Match(text);
            foreach (Match read in section.Success ? SectionRead().Matches(text) : Enumerable.Empty<Match>())
            {
                yield return $"{section.Groups[1].Value}:{read.Groups[1].Value}";
            }
        }
    }

    private static IEnumerable<string> JsonKeys(JsonElement element, string prefix) =>
        element.ValueKind == JsonValueKind.Object
            ? element.EnumerateObject().SelectMany(p => JsonKeys(p.Value, prefix.Length == 0 ? p.Name : $"{prefix}:{p.Name}"))
            : [prefix];

    /// <summary>Named on the page as a whole key (in backticks, not only as the start of a longer name).</summary>
    private static bool Names(string key) => Regex.IsMatch(Page, $"`{Regex.Escape(key)}[`:]");

    private static string RepositoryRoot([CallerFilePath] string thisFile = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", ".."));

    [GeneratedRegex("\"(MindJourney(?::[A-Za-z]+)+)\"")]
    private static partial Regex SettingLiteral();

    [GeneratedRegex("SectionName = \"([A-Za-z:]+)\"")]
    private static partial Regex SectionNameConst();

    [GeneratedRegex("(?:GetValue(?:<[^>]+>)?|ReadList|ReadNetworks)\\((?:section, )?\"([A-Za-z]+)\"")]
    private static partial Regex SectionRead();

    [GeneratedRegex("AddParameter\\(\\s*\"(?<name>[a-z-]+)\"|const string \\w+Parameter = \"(?<name>[a-z-]+)\"")]
    private static partial Regex ParameterName();

    [GeneratedRegex("GetSection\\(\"(MindJourney(?::[A-Za-z]+)+)\"\\)")]
    private static partial Regex SectionGet();

    [GeneratedRegex("settings\\[\"([A-Za-z]+)\"\\]")]
    private static partial Regex SectionIndexer();
}
