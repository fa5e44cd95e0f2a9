using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace MindJourney.LoadTests.Options;

/// <summary>The options of a run, or why there are none (each error is a usage error: exit code 2).</summary>
public sealed record OptionsResolution(LoadTestOptions? Options, IReadOnlyList<string> Errors)
{
    public bool IsValid => Options is not null && Errors.Count == 0;
}

/// <summary>
/// Stacks the sources as configuration — command line over config file over environment over defaults — binds them to
/// <see cref="LoadTestOptions"/>, then validates. A key is an option's long name without dashes or underscores
/// (<c>--api-url</c>, <c>apiUrl</c> and <c>api-url</c> are all <c>apiurl</c>), matched to a property ignoring case.
/// </summary>
public static class OptionsResolver
{
    /// <summary>The original platform's variables, and the option each sets.</summary>
    public static readonly IReadOnlyDictionary<string, string> EnvironmentVariables = new Dictionary<string, string>
    {
        ["API_URL"] = nameof(LoadTestOptions.ApiUrl),
        ["CONCURRENT_USERS"] = nameof(LoadTestOptions.Users),
        ["ADMIN_API_KEY"] = nameof(LoadTestOptions.AdminKey),
    };

    // A typo in a config file must not silently fall back to a default.
    private static readonly Action<BinderOptions> Strict = binder => binder.ErrorOnUnknownConfiguration = true;

    /// <param name="commandLine">The options the command line gave, by name (<c>--ramp-up</c>), as their text.</param>
    /// <param name="configPath">The JSON file of <c>--config</c>, if any.</param>
    /// <param name="environment">The process environment; only <see cref="EnvironmentVariables"/> are read.</param>
    public static OptionsResolution Resolve(IEnumerable<KeyValuePair<string, string>> commandLine, string? configPath,
        IReadOnlyDictionary<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        ArgumentNullException.ThrowIfNull(environment);
        var errors = new List<string>();
        var layers = new[]
        {
            EnvironmentVariables.Select(v => new Setting(v.Key, v.Value, environment.GetValueOrDefault(v.Key))),
            string.IsNullOrWhiteSpace(configPath) ? [] : ReadFile(configPath, errors),
            commandLine.Select(o => new Setting(o.Key, o.Key, o.Value)),
        };

        var builder = new ConfigurationBuilder();
        foreach (var layer in layers)
        {
            builder.AddInMemoryCollection(layer.Where(s => !string.IsNullOrWhiteSpace(s.Text))
                .Select(s => Check(s, errors)).OfType<KeyValuePair<string, string?>>().ToList());
        }

        if (errors.Count > 0)
        {
            return new OptionsResolution(null, errors);
        }

        // The binder reads a list only as numbered keys, which layers would merge item by item: here it is one value.
        var configuration = builder.Build();
        var percentiles = configuration[nameof(LoadTestOptions.Percentiles)];
        configuration[nameof(LoadTestOptions.Percentiles)] = null;
        var options = configuration.Get<LoadTestOptions>() ?? new LoadTestOptions();
        if (ValueParsers.TryParsePercentiles(percentiles, out var list))
        {
            options = options with { Percentiles = list };
        }

        errors.AddRange(options.Validate());
        return errors.Count > 0 ? new OptionsResolution(null, errors) : new OptionsResolution(options, errors);
    }

    /// <summary>The file's settings; an array (percentiles) becomes one comma-separated value, as on the command line.</summary>
    private static IEnumerable<Setting> ReadFile(string path, List<string> errors)
    {
        try
        {
            var file = new ConfigurationBuilder().AddJsonFile(Path.GetFullPath(path), optional: false).Build();
            return file.GetChildren().Select(s => new Setting(
                $"--config {path}: '{s.Key}'", s.Key, s.Value ?? string.Join(',', s.GetChildren().Select(i => i.Value)))).ToList();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or FormatException or UnauthorizedAccessException
            or ArgumentException)
        {
            errors.Add($"--config {path}: {e.GetBaseException().Message}");
            return [];
        }
    }

    /// <summary>
    /// The setting as the binder reads it: durations and percentages in the spellings it knows. Null, with an error naming
    /// where the setting came from, when the value is not one the option takes.
    /// </summary>
    private static KeyValuePair<string, string?>? Check(Setting setting, List<string> errors)
    {
        var key = setting.Key.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal);
        var text = setting.Text!.Trim();
        var (value, expected) = key.ToLowerInvariant() switch
        {
            "duration" or "rampup" or "warmup" or "timeout" => (ValueParsers.TryParseDuration(text, out var time)
                ? time.ToString("c", CultureInfo.InvariantCulture) : null, "is not a duration (e.g. 20s, 1m, 1m30s, 500ms)"),
            "maxerrorrate" => (ValueParsers.TryParseRate(text, out var rate)
                ? rate.ToString("R", CultureInfo.InvariantCulture) : null, "must be a fraction 0..1 or a percentage like 1%"),
            "percentiles" => (ValueParsers.TryParsePercentiles(text, out _) ? text : null,
                "must be numbers in (0, 100], e.g. 50,95,99,99.9"),
            _ => (text, null),
        };
        if (expected is not null)
        {
            if (value is null)
            {
                errors.Add($"{setting.Where}: '{text}' {expected}.");
                return null;
            }

            return new(key, value);
        }

        try
        {
            new ConfigurationBuilder().AddInMemoryCollection([new(key, value)]).Build().Get<LoadTestOptions>(Strict);
            return new(key, value);
        }
        catch (InvalidOperationException e)
        {
            // Without an inner exception the binder found no property for the key.
            errors.Add(e.InnerException is null
                ? $"{setting.Where} is not a known option."
                : $"{setting.Where}: {e.GetBaseException().Message}");
            return null;
        }
    }

    /// <summary>One value from one source: where it came from (for errors), its key, its text.</summary>
    private sealed record Setting(string Where, string Key, string? Text);
}
