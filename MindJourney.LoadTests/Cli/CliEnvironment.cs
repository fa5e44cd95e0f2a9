using MindJourney.LoadTests.Options;
using Spectre.Console;

namespace MindJourney.LoadTests.Cli;

/// <summary>What the CLI reads and writes: environment variables, output, and whether a live display can be drawn.</summary>
public sealed record CliEnvironment(
    IReadOnlyDictionary<string, string?> Variables,
    TextWriter Out,
    TextWriter Error,
    bool Interactive)
{
    /// <summary>The real process: the variables the harness reads, stdout/stderr, interactive unless stdout is redirected.</summary>
    public static CliEnvironment FromProcess() =>
        new(OptionsResolver.EnvironmentVariables.Keys.ToDictionary(name => name, Environment.GetEnvironmentVariable),
            Console.Out, Console.Error, !Console.IsOutputRedirected);

    /// <summary>Spectre console over <see cref="Out"/>: colours and live display only when interactive.</summary>
    internal IAnsiConsole CreateConsole()
    {
        if (Interactive && ReferenceEquals(Out, Console.Out))
        {
            return AnsiConsole.Console;
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Out),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 200;
        return console;
    }
}
