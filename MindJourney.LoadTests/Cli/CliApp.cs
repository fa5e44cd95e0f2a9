using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using MindJourney.LoadTests.Options;
using MindJourney.LoadTests.Reports;
using MindJourney.LoadTests.Runner;

namespace MindJourney.LoadTests.Cli;

/// <summary>The command line: parses, layers the options, runs, prints, writes reports. Exit codes 0 / 1 / 2.</summary>
public static class CliApp
{
    public const int ExitPassed = 0;
    public const int ExitFailed = 1;
    public const int ExitUsage = 2;

    private const string Description = """
        MindJourney load harness: drives the HTTP API (POST /api/session, or a whole participant journey), measures
        latency with HdrHistogram, checks the visitor numbers it was handed, and writes Markdown/HTML/CSV/JSON reports.

        Precedence: command line > --config file > environment > defaults.
        Environment: API_URL (default http://localhost:5000/api), CONCURRENT_USERS (default 10), ADMIN_API_KEY.
        Load goes only to loopback hosts unless --allow-remote. Without --duration or --iterations the run lasts 30s.
        Exit codes: 0 every check and threshold passed; 1 a check or threshold failed (or the run could not start);
        2 bad usage.
        """;

    /// <summary>Runs the CLI; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args, CliEnvironment environment, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(environment);
        var command = new CommandDefinition(environment);
        var parseResult = command.Root.Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            foreach (var error in parseResult.Errors)
            {
                await environment.Error.WriteLineAsync($"error: {error.Message}").ConfigureAwait(false);
            }

            await environment.Error.WriteLineAsync("Run with --help for usage.").ConfigureAwait(false);
            return ExitUsage;
        }

        var invocation = new InvocationConfiguration
        {
            Output = environment.Out,
            Error = environment.Error,
            ProcessTerminationTimeout = TimeSpan.FromSeconds(15),
        };
        return await parseResult.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// What a command line resolves to, without running anything: parse errors and option errors both land in
    /// <see cref="OptionsResolution.Errors"/> (exit code 2 when not empty).
    /// </summary>
    public static OptionsResolution ResolveOptions(string[] args, IReadOnlyDictionary<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(environment);
        var command = new CommandDefinition(new CliEnvironment(environment, TextWriter.Null, TextWriter.Null, Interactive: false));
        var parseResult = command.Root.Parse(args);
        return parseResult.Errors.Count > 0
            ? new OptionsResolution(null, parseResult.Errors.Select(e => e.Message).ToArray())
            : command.Resolve(parseResult);
    }

    /// <summary>The options of the command line, and its action.</summary>
    private sealed class CommandDefinition
    {
        private readonly CliEnvironment _env;

        private readonly Option<string?> _apiUrl = new("--api-url")
        {
            Description = "API base URL incl. /api [env API_URL; default http://localhost:5000/api]. Loopback only unless --allow-remote.",
            HelpName = "url"
        };

        private readonly Option<int?> _users = new("--users", "-u")
        {
            Description = "Closed model: concurrent virtual users. Open model: lower bound of the in-flight cap "
                + "[env CONCURRENT_USERS; default 10].",
            HelpName = "n"
        };

        private readonly Option<string?> _duration = new("--duration", "-d")
        {
            Description = "Length of the load phase, ramp-up included: 20s, 1m, 1m30s, 500ms "
                + "[default 30s when neither --duration nor --iterations is given].",
            HelpName = "time"
        };

        private readonly Option<int?> _iterations = new("--iterations", "-n")
        {
            Description = "Closed model: iterations PER USER (total = users x n). Open model: TOTAL arrivals. "
                + "With --duration, whichever ends first.",
            HelpName = "n"
        };

        private readonly Option<string?> _rampUp = new("--ramp-up")
        {
            Description = "Closed: users start evenly over this time. Open: the rate climbs linearly to --rate over it [default 0].",
            HelpName = "time"
        };

        private readonly Option<string?> _warmUp = new("--warm-up")
        {
            Description = "Offer the same load for this long first and leave it out of every figure and check [default 0].",
            HelpName = "time"
        };

        private readonly Option<double?> _rate = new("--rate")
        {
            Description = "Open model: arrivals per second, independent of the server's speed; "
                + "latency is measured from each arrival's scheduled start (coordinated-omission correction).",
            HelpName = "per-second"
        };

        private readonly Option<int?> _maxInFlight = new("--max-in-flight")
        {
            Description = "Open model: iterations in flight at most; arrivals beyond are dropped and counted "
                + "[default max(users, 2 x rate, 16)].",
            HelpName = "n"
        };

        private readonly Option<string?> _scenario = new("--scenario", "-s")
        {
            Description = "session: POST /api/session only. journey: experiment, session, levels, text answers, one voice upload, "
                + "level moves to completion [default session].",
            HelpName = "session|journey"
        };

        private readonly Option<string?> _reportDir = new("--report-dir", "-o")
        {
            Description = "Folder for report.md/.html/.csv/.json [default ./load-reports/<timestamp>].",
            HelpName = "dir"
        };

        private readonly Option<string?> _percentiles = new("--percentiles")
        {
            Description = "Latency percentiles to report [default 50,75,95,99,99.9].",
            HelpName = "list"
        };

        private readonly Option<double?> _maxP99 = new("--max-p99-ms")
        {
            Description = "Threshold: p99 of all requests at most this many ms.",
            HelpName = "ms"
        };

        private readonly Option<string?> _maxErrorRate = new("--max-error-rate")
        {
            Description = "Threshold: failed + dropped over all attempts at most this fraction (0.01) or percentage (1%).",
            HelpName = "rate"
        };

        private readonly Option<double?> _minRps = new("--min-rps")
        {
            Description = "Threshold: successful requests per second at least this.",
            HelpName = "n"
        };

        private readonly Option<string?> _adminKey = new("--admin-key")
        {
            Description = "Admin API key for the audit and download checks [env ADMIN_API_KEY]. Never printed.",
            HelpName = "key"
        };

        private readonly Option<string?> _config = new("--config", "-c")
        {
            Description = "JSON file holding any of these options by long name (apiUrl or api-url, ...).",
            HelpName = "file.json"
        };

        private readonly Option<bool> _allowRemote = new("--allow-remote") { Description = "Allow a non-loopback --api-url." };

        private readonly Option<bool> _allowFallback = new("--allow-fallback")
        {
            Description = "Accept sessions created without a visitor number (fallback); they are still counted and reported."
        };

        private readonly Option<bool> _quiet = new("--quiet", "-q")
        {
            Description = "No progress: neither the live line nor, when output is redirected, a line every 5 s."
        };

        private readonly Option<string?> _timeout = new("--timeout")
        {
            Description = "Per-request timeout [default 30s].",
            HelpName = "time"
        };

        private readonly Option<int?> _verifySample = new("--verify-sample")
        {
            Description = "Journey: uploads verified after the run [default 20].",
            HelpName = "n"
        };

        private readonly Option<double?> _flaky = new("--flaky")
        {
            Description = "Journey: cut this percentage (0-100) of answer and upload requests before their answer arrives, "
                + "then retry each with its Idempotency-Key [default 0].",
            HelpName = "percent"
        };

        private readonly Option<string?> _study = new("--study")
        {
            Description = "Play in this study, by its slug (its link's ?study=); it must exist and take people "
                + "[default: the most recently opened open study].",
            HelpName = "slug"
        };

        private readonly Option<bool> _expectFull = new("--expect-full")
        {
            Description = "With --study: Plays refused with 409 /problems/study-full are expected (counted apart, not errors); "
                + "checks that exactly min(cap - already started, tried) people were numbered and the rest refused."
        };

        public CommandDefinition(CliEnvironment env)
        {
            _env = env;
            _scenario.AcceptOnlyFromAmong("session", "journey");
            Root = new RootCommand(Description)
            {
                _apiUrl, _users, _duration, _iterations, _rampUp, _warmUp, _rate, _maxInFlight, _scenario, _reportDir, _percentiles,
                _maxP99, _maxErrorRate, _minRps, _adminKey, _config, _allowRemote, _allowFallback, _quiet, _timeout, _verifySample,
                _flaky, _study, _expectFull,
            };
            Root.SetAction(RunAsync);
        }

        public RootCommand Root { get; }

        private async Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken)
        {
            var resolution = Resolve(parse);
            if (!resolution.IsValid)
            {
                foreach (var error in resolution.Errors)
                {
                    await _env.Error.WriteLineAsync($"error: {error}").ConfigureAwait(false);
                }

                await _env.Error.WriteLineAsync("Run with --help for usage.").ConfigureAwait(false);
                return ExitUsage;
            }

            var options = resolution.Options!;
            var reportDir = options.ReportDir ?? ReportWriter.DefaultDirectory(DateTimeOffset.UtcNow);
            var console = _env.CreateConsole();
            var renderer = new ConsoleRenderer(console);
            renderer.Header(options);

            Func<IProgress<LiveStats>?, Task<LoadTestResult>> run =
                progress => LoadTestRunner.RunAsync(options, null, progress, cancellationToken);
            var result = options.Quiet ? await run(null).ConfigureAwait(false)
                : _env.Interactive ? await renderer.RunLiveAsync(run).ConfigureAwait(false)
                : await renderer.RunLoggedAsync(run).ConfigureAwait(false);

            IReadOnlyList<string> files;
            try
            {
                files = ReportWriter.WriteAll(result, reportDir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                await _env.Error.WriteLineAsync($"error: cannot write reports to '{reportDir}': {e.Message}").ConfigureAwait(false);
                files = [];
            }

            renderer.Summary(result, files);
            return result.ExitCode;
        }

        /// <summary>The options given, by name, as their text (a flag alone is "true"), layered over file and environment.</summary>
        public OptionsResolution Resolve(ParseResult parse)
        {
            var given = Root.Options.Where(o => o != _config && o is not (HelpOption or VersionOption))
                .Select(parse.GetResult).OfType<OptionResult>().Where(r => !r.Implicit)
                .Select(r => KeyValuePair.Create(r.Option.Name, r.Tokens.Count > 0 ? r.Tokens[0].Value : "true"));
            return OptionsResolver.Resolve(given, parse.GetValue(_config), _env.Variables);
        }
    }
}
