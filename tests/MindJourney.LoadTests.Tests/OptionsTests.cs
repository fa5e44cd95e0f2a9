using MindJourney.LoadTests.Cli;
using MindJourney.LoadTests.Options;

namespace MindJourney.LoadTests.Tests;

public sealed class OptionsTests : IDisposable
{
    private static readonly Dictionary<string, string?> NoEnv = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("mj-opts-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Config(string json)
    {
        var path = Path.Combine(_dir, $"cfg-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    private static LoadTestOptions Resolve(string[] args, IReadOnlyDictionary<string, string?>? env = null)
    {
        var r = CliApp.ResolveOptions(args, env ?? NoEnv);
        Assert.True(r.IsValid, string.Join(" | ", r.Errors));
        return r.Options!;
    }

    [Fact]
    public void Defaults_match_the_original_platform_and_bound_the_run_at_30s()
    {
        var o = Resolve([]);
        Assert.Equal(new Uri("http://localhost:5000/api"), o.ApiUrl);
        Assert.Equal(10, o.Users);
        Assert.Equal(TimeSpan.FromSeconds(30), o.EffectiveDuration);
        Assert.Null(o.Iterations);
        Assert.Equal([50, 75, 95, 99, 99.9], o.Percentiles);
        Assert.Equal(ScenarioKind.Session, o.Scenario);
        Assert.Equal(LoadModel.Closed, o.Model);
    }

    [Fact]
    public void Flaky_takes_a_percentage_from_0_to_100()
    {
        Assert.Equal(0, Resolve([]).Flaky);
        Assert.Equal(20, Resolve(["--flaky", "20", "--scenario", "journey"]).Flaky);
        Assert.Equal(2.5, Resolve(["--flaky", "2.5", "-s", "journey"]).Flaky);
        foreach (var bad in new[] { "101", "-1", "NaN" })
        {
            var r = CliApp.ResolveOptions(["--flaky", bad, "-s", "journey"], NoEnv);
            Assert.False(r.IsValid);
            Assert.Contains(r.Errors, e => e.Contains("--flaky must be a percentage from 0 to 100", StringComparison.Ordinal));
        }

        // Play sends no answer to cut: the option would do nothing, so it is refused.
        var session = CliApp.ResolveOptions(["--flaky", "20"], NoEnv);
        Assert.Contains(session.Errors, e => e.Contains("only the journey scenario", StringComparison.Ordinal));
    }

    [Fact]
    public void Iterations_alone_bound_the_run_by_count()
    {
        var o = Resolve(["--iterations", "3"]);
        Assert.Equal(3, o.Iterations);
        Assert.Null(o.EffectiveDuration);
    }

    [Fact]
    public void Environment_API_URL_CONCURRENT_USERS_and_ADMIN_API_KEY_are_read()
    {
        var o = Resolve([], new Dictionary<string, string?>
        {
            ["API_URL"] = "http://127.0.0.1:7000/api",
            ["CONCURRENT_USERS"] = "25",
            ["ADMIN_API_KEY"] = "s3cret",
        });
        Assert.Equal(new Uri("http://127.0.0.1:7000/api"), o.ApiUrl);
        Assert.Equal(25, o.Users);
        Assert.Equal("s3cret", o.AdminKey);
        Assert.DoesNotContain("s3cret", o.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Command_line_overrides_config_file_which_overrides_environment()
    {
        var env = new Dictionary<string, string?> { ["API_URL"] = "http://127.0.0.1:1111/api", ["CONCURRENT_USERS"] = "3" };
        var cfg = Config("""
            { "apiUrl": "http://127.0.0.1:2222/api", "users": 4, "duration": "1m", "scenario": "journey",
              "percentiles": [50, 99], "max-error-rate": "2%", "allowFallback": true, "rampUp": 5 }
            """);

        var fromFile = Resolve(["--config", cfg], env);
        Assert.Equal(2222, fromFile.ApiUrl.Port);
        Assert.Equal(4, fromFile.Users);
        Assert.Equal(TimeSpan.FromMinutes(1), fromFile.Duration);
        Assert.Equal(ScenarioKind.Journey, fromFile.Scenario);
        Assert.Equal([50, 99], fromFile.Percentiles);
        Assert.Equal(0.02, fromFile.MaxErrorRate!.Value, 10);
        Assert.True(fromFile.AllowFallback);
        Assert.Equal(TimeSpan.FromSeconds(5), fromFile.RampUp);

        var fromCli = Resolve(["--config", cfg, "--users", "7", "--api-url", "http://localhost:3333/api",
            "-d", "20s", "-s", "session", "--percentiles", "90,99.99"], env);
        Assert.Equal(3333, fromCli.ApiUrl.Port);
        Assert.Equal(7, fromCli.Users);
        Assert.Equal(TimeSpan.FromSeconds(20), fromCli.Duration);
        Assert.Equal(ScenarioKind.Session, fromCli.Scenario);
        Assert.Equal([90, 99.99], fromCli.Percentiles);
        Assert.True(fromCli.AllowFallback); // only the file said it
    }

    [Fact]
    public void A_flag_overrides_the_environment_and_a_file_fills_only_what_it_names()
    {
        var env = new Dictionary<string, string?>
        {
            ["API_URL"] = "http://127.0.0.1:1111/api",
            ["CONCURRENT_USERS"] = "3",
            ["ADMIN_API_KEY"] = "k"
        };

        var fromCli = Resolve(["--api-url", "http://127.0.0.1:3333/api", "-u", "7", "--admin-key", "flag-key"], env);
        Assert.Equal(3333, fromCli.ApiUrl.Port);
        Assert.Equal(7, fromCli.Users);
        Assert.Equal("flag-key", fromCli.AdminKey);

        var fromFile = Resolve(["--config", Config("""{ "users": 4 }""")], env);
        Assert.Equal(4, fromFile.Users);
        Assert.Equal(1111, fromFile.ApiUrl.Port); // the file does not name it: the environment's stands
        Assert.Equal("k", fromFile.AdminKey);
    }

    [Fact]
    public void Config_file_keys_in_camel_or_kebab_case_bind_every_option()
    {
        var cfg = Config("""
            { "api-url": "http://127.0.0.1:4444/api", "maxInFlight": 32, "max-p99-ms": 250.5, "minRps": 10, "rate": 12.5,
              "ramp_up": "2s", "timeout": "1m30s", "verify-sample": 3, "quiet": true, "allow-remote": false, "reportDir": "out",
              "iterations": "9", "maxErrorRate": 0.25, "adminKey": "file-key", "users": null,
              // comments and trailing commas are fine
            }
            """);
        var o = Resolve(["--config", cfg], new Dictionary<string, string?> { ["CONCURRENT_USERS"] = "6" });
        Assert.Equal(4444, o.ApiUrl.Port);
        Assert.Equal(32, o.MaxInFlight);
        Assert.Equal(250.5, o.MaxP99Ms);
        Assert.Equal(10, o.MinRps);
        Assert.Equal(12.5, o.Rate);
        Assert.Equal(TimeSpan.FromSeconds(2), o.RampUp);
        Assert.Equal(TimeSpan.FromSeconds(90), o.RequestTimeout);
        Assert.Equal(3, o.VerifySample);
        Assert.True(o.Quiet);
        Assert.False(o.AllowRemote);
        Assert.Equal("out", o.ReportDir);
        Assert.Equal(9, o.Iterations);
        Assert.Equal(0.25, o.MaxErrorRate);
        Assert.Equal("file-key", o.AdminKey);
        Assert.Equal(6, o.Users); // null in the file = not given there
    }

    [Fact]
    public void Flags_given_alone_are_true_and_durations_and_rates_take_their_short_forms()
    {
        var o = Resolve(["--quiet", "--allow-fallback", "--timeout", "45s", "--ramp-up", "1m", "-d", "2m", "--max-error-rate", "5%",
            "--warm-up", "5s"]);
        Assert.True(o.Quiet);
        Assert.True(o.AllowFallback);
        Assert.False(o.AllowRemote);
        Assert.Equal(TimeSpan.FromSeconds(45), o.RequestTimeout);
        Assert.Equal(TimeSpan.FromMinutes(1), o.RampUp);
        Assert.Equal(TimeSpan.FromMinutes(2), o.Duration);
        Assert.Equal(TimeSpan.FromSeconds(5), o.WarmUp);
        Assert.Equal(0.05, o.MaxErrorRate!.Value, 10);
    }

    [Fact]
    public void A_percentile_list_from_the_command_line_replaces_the_files_whole()
    {
        var cfg = Config("""{ "percentiles": [50, 75, 95, 99] }""");
        Assert.Equal([90], Resolve(["--config", cfg, "--percentiles", "90"]).Percentiles);
        Assert.Equal([50, 75, 95, 99], Resolve(["--config", cfg]).Percentiles);
        Assert.Equal([50, 99, 99.9], Resolve(["--percentiles", "p99.9 50;99"]).Percentiles);
    }

    [Fact]
    public void Bad_values_are_reported_with_where_they_came_from_and_the_value()
    {
        var cfg = Config("""{ "duration": "forever", "usres": 5, "users": "many" }""");
        var r = CliApp.ResolveOptions(["--config", cfg, "--ramp-up", "soon", "--warm-up", "later", "--max-error-rate", "7"],
            new Dictionary<string, string?> { ["CONCURRENT_USERS"] = "ten", ["ADMIN_API_KEY"] = "never-shown" });
        Assert.False(r.IsValid);
        Assert.Contains(r.Errors, e => e.StartsWith("--ramp-up: 'soon' is not a duration", StringComparison.Ordinal));
        Assert.Contains(r.Errors, e => e.StartsWith("--warm-up: 'later' is not a duration", StringComparison.Ordinal));
        Assert.Contains(r.Errors,
            e => e.StartsWith("--max-error-rate: '7' must be a fraction 0..1 or a percentage", StringComparison.Ordinal));
        Assert.Contains(r.Errors, e => e.StartsWith($"--config {cfg}: 'duration': 'forever' is not a duration", StringComparison.Ordinal));
        Assert.Contains(r.Errors, e => e == $"--config {cfg}: 'usres' is not a known option.");
        Assert.Contains(r.Errors,
            e => e.StartsWith($"--config {cfg}: 'users'", StringComparison.Ordinal) && e.Contains("many", StringComparison.Ordinal));
        Assert.Contains(r.Errors,
            e => e.StartsWith("CONCURRENT_USERS:", StringComparison.Ordinal) && e.Contains("ten", StringComparison.Ordinal));
        Assert.DoesNotContain(r.Errors, e => e.Contains("never-shown", StringComparison.Ordinal));
    }

    [Fact]
    public void A_config_file_cannot_name_another_and_an_unknown_scenario_number_is_refused()
    {
        Assert.False(CliApp.ResolveOptions(["--config", Config("""{ "config": "other.json" }""")], NoEnv).IsValid);
        Assert.False(CliApp.ResolveOptions(["--config", Config("""{ "scenario": 7 }""")], NoEnv).IsValid);
        Assert.Equal(ScenarioKind.Journey, Resolve(["--config", Config("""{ "scenario": "Journey" }""")]).Scenario);
    }

    [Fact]
    public void Open_model_options()
    {
        var o = Resolve(["--rate", "200", "--max-in-flight", "64", "--iterations", "1000"]);
        Assert.Equal(LoadModel.Open, o.Model);
        Assert.Equal(200, o.Rate);
        Assert.Equal(64, o.EffectiveMaxInFlight);
        Assert.True(o.ConnectionLimit >= o.Users);
    }

    [Theory]
    [InlineData("http://localhost:5000/api")]
    [InlineData("http://127.0.0.1:5000/api")]
    [InlineData("http://127.8.9.10/api")]
    [InlineData("http://[::1]:5000/api")]
    [InlineData("http://app.localhost/api")]
    public void Loopback_hosts_are_accepted(string url) => Assert.True(LoopbackRule.IsLoopback(new Uri(url)));

    [Theory]
    [InlineData("http://example.com/api")]
    [InlineData("http://10.0.0.5/api")]
    [InlineData("http://192.168.1.2:5000/api")]
    [InlineData("http://localhost.example.com/api")]
    public void Remote_hosts_are_refused_unless_allow_remote(string url)
    {
        Assert.False(LoopbackRule.IsLoopback(new Uri(url)));
        var refused = CliApp.ResolveOptions(["--api-url", url], NoEnv);
        Assert.False(refused.IsValid);
        Assert.Contains(refused.Errors, e => e.Contains("--allow-remote", StringComparison.Ordinal));

        Assert.Equal(new Uri(url), Resolve(["--api-url", url, "--allow-remote"]).ApiUrl);
    }

    [Fact]
    public void Remote_API_URL_from_environment_is_refused_too()
    {
        var r = CliApp.ResolveOptions([], new Dictionary<string, string?> { ["API_URL"] = "http://10.1.2.3:5000/api" });
        Assert.False(r.IsValid);
    }

    [Theory]
    [InlineData("20s", 20_000)]
    [InlineData("1m", 60_000)]
    [InlineData("1m30s", 90_000)]
    [InlineData("500ms", 500)]
    [InlineData("2h", 7_200_000)]
    [InlineData("45", 45_000)]
    [InlineData("0.5", 500)]
    [InlineData("00:01:05", 65_000)]
    public void Durations_parse(string text, double ms)
    {
        Assert.True(ValueParsers.TryParseDuration(text, out var t));
        Assert.Equal(ms, t.TotalMilliseconds, 6);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("10x")]
    [InlineData("-5s")]
    [InlineData("s")]
    public void Bad_durations_do_not_parse(string text) => Assert.False(ValueParsers.TryParseDuration(text, out _));

    [Theory]
    [InlineData("0.01", 0.01)]
    [InlineData("1%", 0.01)]
    [InlineData("0", 0)]
    [InlineData("100%", 1)]
    public void Error_rates_parse(string text, double expected)
    {
        Assert.True(ValueParsers.TryParseRate(text, out var v));
        Assert.Equal(expected, v, 10);
    }

    [Theory]
    [InlineData("--users", "abc")]
    [InlineData("--users", "0")]
    [InlineData("--users", "-3")]
    [InlineData("--duration", "soon")]
    [InlineData("--duration", "0s")]
    [InlineData("--iterations", "0")]
    [InlineData("--scenario", "marathon")]
    [InlineData("--percentiles", "50,150")]
    [InlineData("--percentiles", "x")]
    [InlineData("--max-error-rate", "2")]
    [InlineData("--rate", "-1")]
    [InlineData("--rate", "fast")]
    [InlineData("--api-url", "not a url")]
    [InlineData("--api-url", "ftp://localhost/api")]
    [InlineData("--config", "/nonexistent/loadtest.json")]
    [InlineData("--bogus", "1")]
    public async Task Bad_values_exit_with_2(string option, string value)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await CliApp.RunAsync([option, value], new CliEnvironment(NoEnv, output, error, Interactive: false));
        Assert.Equal(CliApp.ExitUsage, code);
        Assert.Contains("error", error.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Ramp_up_longer_than_duration_exits_with_2()
    {
        var code = await CliApp.RunAsync(["-d", "5s", "--ramp-up", "10s"],
            new CliEnvironment(NoEnv, new StringWriter(), new StringWriter(), false));
        Assert.Equal(2, code);
    }

    [Fact]
    public async Task Bad_environment_value_exits_with_2()
    {
        var error = new StringWriter();
        var code = await CliApp.RunAsync([], new CliEnvironment(new Dictionary<string, string?> { ["CONCURRENT_USERS"] = "ten" },
            new StringWriter(), error, false));
        Assert.Equal(2, code);
        Assert.Contains("CONCURRENT_USERS", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{ \"users\": \"many\" }")]
    [InlineData("{ \"usres\": 5 }")]
    [InlineData("{ \"duration\": \"forever\" }")]
    [InlineData("[1, 2]")]
    [InlineData("{ not json")]
    public void Bad_config_files_are_usage_errors(string json)
    {
        var r = CliApp.ResolveOptions(["--config", Config(json)], NoEnv);
        Assert.False(r.IsValid);
        Assert.NotEmpty(r.Errors);
    }

    [Fact]
    public async Task Help_exits_0_and_says_how_iterations_count()
    {
        var output = new StringWriter();
        var code = await CliApp.RunAsync(["--help"], new CliEnvironment(NoEnv, output, new StringWriter(), false));
        Assert.Equal(0, code);
        var help = output.ToString();
        foreach (var option in new[] { "--api-url", "--users", "--duration", "--iterations", "--ramp-up", "--rate", "--scenario",
            "--report-dir", "--percentiles", "--max-p99-ms", "--max-error-rate", "--min-rps", "--admin-key", "--config",
            "--allow-remote", "--allow-fallback", "--quiet" })
        {
            Assert.Contains(option, help, StringComparison.Ordinal);
        }

        Assert.Contains("PER USER", help, StringComparison.Ordinal);
        Assert.Contains("TOTAL arrivals", help, StringComparison.Ordinal);
        Assert.Contains("API_URL", help, StringComparison.Ordinal);
        Assert.Contains("CONCURRENT_USERS", help, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_validate_on_their_own()
    {
        Assert.Empty(new LoadTestOptions().Validate());
        Assert.NotEmpty(new LoadTestOptions { Users = 0 }.Validate());
        Assert.NotEmpty(new LoadTestOptions { Percentiles = [] }.Validate());
        Assert.NotEmpty(new LoadTestOptions { ApiUrl = new Uri("http://203.0.113.9/api") }.Validate());
        Assert.Empty(new LoadTestOptions { ApiUrl = new Uri("http://203.0.113.9/api"), AllowRemote = true }.Validate());
    }
}
