using System.Text.RegularExpressions;
using MindJourney.LoadTests.Checks;
using MindJourney.LoadTests.Options;
using MindJourney.LoadTests.Reports;

namespace MindJourney.LoadTests.Tests;

public sealed class ReportTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mj-reports-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    internal static LoadTestResult Sample(LoadModel model = LoadModel.Open)
    {
        double[] pcts = [50, 75, 95, 99, 99.9];
        LatencySummary L(double scale) => new()
        {
            Count = 100,
            MinMs = 1 * scale,
            MeanMs = 5 * scale,
            MaxMs = 40 * scale,
            StdDevMs = 3 * scale,
            Percentiles = pcts.Select(p => new PercentileValue(p, p / 10 * scale)).ToArray(),
        };

        return new LoadTestResult
        {
            Options = new LoadTestOptions
            {
                ApiUrl = new Uri("http://127.0.0.1:5000/api"),
                Rate = model == LoadModel.Open ? 50 : null,
                Duration = TimeSpan.FromSeconds(20),
                AdminKey = "never-in-a-report",
                Scenario = ScenarioKind.Journey,
            },
            AdminKeyProvided = true,
            Model = model,
            Scenario = ScenarioKind.Journey,
            StartedAt = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero),
            FinishedAt = new DateTimeOffset(2025, 1, 2, 3, 4, 26, TimeSpan.Zero),
            DurationSeconds = 20,
            Totals = new RunTotals
            {
                Requests = 200,
                Ok = 198,
                Failed = 2,
                Dropped = 1,
                Rps = 10,
                ErrorRate = 3 / 201.0,
                SessionsCreated = 100,
                BytesSent = 12345,
                BytesReceived = 67890
            },
            AllRequests = L(1),
            Steps =
            [
                new StepResult { Name = "create_session", Requests = 100, Ok = 100, Rps = 5,
                    StatusCodes = new Dictionary<string, long> { ["201"] = 100 }, Latency = L(1),
                    ServiceTime = model == LoadModel.Open ? L(0.5) : null },
                new StepResult { Name = "upload", Requests = 100, Ok = 98, Failed = 2, Rps = 5,
                    StatusCodes = new Dictionary<string, long> { ["201"] = 98, ["429"] = 2 }, Latency = L(2) },
            ],
            Series = Enumerable.Range(1, 20)
                .Select(i => new SecondSample
                {
                    ElapsedSeconds = i,
                    Requests = 10,
                    Ok = 10,
                    Rps = 10,
                    P50Ms = i,
                    P99Ms = 3 * i,
                    MaxMs = 4 * i
                })
                .ToArray(),
            Checks =
            [
                CheckResult.Pass(CheckNames.VisitorNumbersUnique, "100 sessions"),
                CheckResult.Fail(CheckNames.VisitorNumbersContiguous, "GET http://127.0.0.1:5000/api/admin failed | pipe"),
                CheckResult.Skip(CheckNames.AuditClean, "needs --admin-key"),
            ],
            Thresholds = [new ThresholdResult("max_p99_ms", 100, 9.9, true, "ok")],
            AuditBefore = new AuditSnapshot { SequenceLastValue = 10 },
            AuditAfter = new AuditSnapshot { SequenceLastValue = 110, Gaps = [new NumberGap(3, 4)], Duplicates = ["7"] },
            VisitorNumbers = Enumerable.Range(11, 100).ToArray(),
            Passed = false,
        };
    }

    [Fact]
    public void All_four_files_are_written()
    {
        var files = ReportWriter.WriteAll(Sample(), _dir);
        Assert.Equal(4, files.Count);
        foreach (var name in new[] { "report.md", "report.html", "report.csv", "report.json" })
        {
            Assert.True(File.Exists(Path.Combine(_dir, name)), name);
            Assert.Contains(Path.Combine(_dir, name), files);
        }

        foreach (var f in files)
        {
            Assert.DoesNotContain("never-in-a-report", File.ReadAllText(f), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Html_is_self_contained()
    {
        var html = HtmlReport.Render(Sample());
        Assert.StartsWith("<!DOCTYPE html>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("https://", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch(new Regex(@"(src|href)\s*=", RegexOptions.IgnoreCase), html);
        Assert.DoesNotMatch(new Regex(@"url\s*\(|@import|<script|<link|<iframe", RegexOptions.IgnoreCase), html);
        Assert.Contains("<style>", html, StringComparison.Ordinal);
        Assert.Contains("<svg", html, StringComparison.Ordinal);
        Assert.Contains("polyline class=\"line p99\"", html, StringComparison.Ordinal);
        Assert.Contains("<th>p99.9</th>", html, StringComparison.Ordinal);
        Assert.Contains("Service time", html, StringComparison.Ordinal);
        Assert.Contains("429:2", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_has_one_row_per_step_under_its_header()
    {
        var lines = CsvReport.Render(Sample()).ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.Equal(
            "step,requests,ok,failed,refused,rps,min_ms,mean_ms,max_ms,stddev_ms,p50_ms,p75_ms,p95_ms,p99_ms,p99_9_ms," +
            "bytes_sent,bytes_received,status_codes",
            lines[0]);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("create_session,100,100,0,0,5,1,5,40,3,5,7.5,9.5,9.9,9.99,", lines[1], StringComparison.Ordinal);
        Assert.EndsWith("\"201:98 429:2\"", lines[2], StringComparison.Ordinal);
    }

    [Fact]
    public void Json_round_trips_everything()
    {
        var original = Sample();
        var json = ReportJson.Serialize(original);
        Assert.Contains("\"series\"", json, StringComparison.Ordinal);
        Assert.Contains("\"checks\"", json, StringComparison.Ordinal);
        Assert.Contains("\"outcome\": \"Skipped\"", json, StringComparison.Ordinal);
        Assert.DoesNotContain("adminKey\"", json, StringComparison.Ordinal);

        var back = ReportJson.Deserialize(json);
        Assert.Equal(original.Totals, back.Totals);
        Assert.Equal(original.Model, back.Model);
        Assert.Equal(original.StartedAt, back.StartedAt);
        Assert.Equal(original.Options.ApiUrl, back.Options.ApiUrl);
        Assert.Equal(original.Options.Duration, back.Options.Duration);
        Assert.Equal(original.Options.Rate, back.Options.Rate);
        Assert.Equal(original.Options.Percentiles, back.Options.Percentiles);
        Assert.Null(back.Options.AdminKey);
        Assert.Equal(original.Checks, back.Checks);
        Assert.Equal(original.Thresholds, back.Thresholds);
        Assert.Equal(original.Series, back.Series);
        Assert.Equal(original.VisitorNumbers, back.VisitorNumbers);
        Assert.Equal(original.AllRequests.Percentiles, back.AllRequests.Percentiles);
        Assert.Equal(original.AuditAfter!.Gaps, back.AuditAfter!.Gaps);
        Assert.Equal(original.AuditAfter.Duplicates, back.AuditAfter.Duplicates);
        Assert.Equal(original.Steps.Count, back.Steps.Count);
        for (var i = 0; i < original.Steps.Count; i++)
        {
            Assert.Equal(original.Steps[i].Name, back.Steps[i].Name);
            Assert.Equal(original.Steps[i].StatusCodes, back.Steps[i].StatusCodes);
            Assert.Equal(original.Steps[i].Latency.Percentiles, back.Steps[i].Latency.Percentiles);
            Assert.Equal(original.Steps[i].ServiceTime?.Percentiles, back.Steps[i].ServiceTime?.Percentiles);
        }

        Assert.Equal(json, ReportJson.Serialize(back));
    }

    [Fact]
    public void Markdown_lists_checks_thresholds_and_steps()
    {
        var md = MarkdownReport.Render(Sample(LoadModel.Closed));
        Assert.Contains("# MindJourney load test: FAILED", md, StringComparison.Ordinal);
        Assert.Contains("| visitor_numbers_contiguous | FAILED |", md, StringComparison.Ordinal);
        Assert.Contains("\\| pipe", md, StringComparison.Ordinal);
        Assert.Contains("| audit_clean | skipped |", md, StringComparison.Ordinal);
        Assert.Contains("| max_p99_ms |", md, StringComparison.Ordinal);
        Assert.Contains("p99.9", md, StringComparison.Ordinal);
        Assert.DoesNotContain("Service time", md, StringComparison.Ordinal);
    }
}
