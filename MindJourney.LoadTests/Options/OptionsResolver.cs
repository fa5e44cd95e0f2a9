namespace MindJourney.LoadTests.Options;

/// <summary>The options of a run, or why there are none (each error is a usage error: exit code 2).</summary>
public sealed record OptionsResolution(LoadTestOptions? Options, IReadOnlyList<string> Errors)
{
    public bool IsValid => Options is not null && Errors.Count == 0;
}

/// <summary>Stacks the sources: command line over config file over environment over defaults, then validates.</summary>
public static class OptionsResolver
{
    public static OptionsResolution Resolve(OptionLayer commandLine, string? configPath, IReadOnlyDictionary<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        ArgumentNullException.ThrowIfNull(environment);
        var errors = new List<string>();
        var env = EnvironmentSource.Read(environment, errors);
        var file = string.IsNullOrWhiteSpace(configPath) ? OptionLayer.Empty : ConfigFileSource.Read(configPath, errors);
        if (errors.Count > 0)
        {
            return new OptionsResolution(null, errors);
        }

        var options = env.OverriddenBy(file).OverriddenBy(commandLine).ToOptions();
        errors.AddRange(options.Validate());
        return errors.Count > 0 ? new OptionsResolution(null, errors) : new OptionsResolution(options, errors);
    }
}
