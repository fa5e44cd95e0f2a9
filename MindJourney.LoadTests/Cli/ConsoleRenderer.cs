using MindJourney.LoadTests.Checks;
using MindJourney.LoadTests.Options;
using MindJourney.LoadTests.Reports;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace MindJourney.LoadTests.Cli;

/// <summary>Console output: a header, the live progress line (or progress lines), and the final tables.</summary>
internal sealed class ConsoleRenderer(IAnsiConsole console)
{
    /// <summary>How often a progress line is written when no live line can be drawn.</summary>
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromSeconds(5);

    public void Header(LoadTestOptions options)
    {
        console.MarkupLine($"[bold]MindJourney load test[/] → {Markup.Escape(options.ApiUrl.ToString())}");
        var bound = options.EffectiveDuration is { } d ? ValueParsers.FormatDuration(d) : "no time bound";
        if (options.Iterations is { } n)
        {
            bound += $", {n} iterations {(options.Model == LoadModel.Open ? "in total" : "per user")}";
        }

        var load = options.Model == LoadModel.Open
            ? $"open model {ReportText.Num(options.Rate ?? 0)}/s (in-flight cap {options.EffectiveMaxInFlight})"
            : $"closed model {options.Users} users";
        console.MarkupLine(Markup.Escape($"scenario {options.Scenario.ToString().ToLowerInvariant()}, {load}, {bound}; "
            + $"admin key {(options.AdminKey is null ? "not given" : "given")}"));
    }

    /// <summary>Runs <paramref name="run"/> under a live line refreshed each second.</summary>
    public async Task<LoadTestResult> RunLiveAsync(Func<IProgress<LiveStats>, Task<LoadTestResult>> run)
    {
        var latest = new Latest();
        LoadTestResult? result = null;
        await console.Live(Line(null)).AutoClear(false).StartAsync(async ctx =>
        {
            var task = run(latest);
            while (!task.IsCompleted)
            {
                await Task.WhenAny(task, Task.Delay(500)).ConfigureAwait(false);
                ctx.UpdateTarget(Line(latest.Value));
                ctx.Refresh();
            }

            result = await task.ConfigureAwait(false);
        }).ConfigureAwait(false);
        return result!;
    }

    /// <summary>
    /// Runs <paramref name="run"/> writing a progress line every <see cref="ProgressEvery"/> of the load phase and
    /// one at its end: where output is redirected (the AppHost's loadtests resource, whose console log the dashboard
    /// shows; a CI log) a live line prints nothing until the run is over.
    /// </summary>
    public async Task<LoadTestResult> RunLoggedAsync(Func<IProgress<LiveStats>, Task<LoadTestResult>> run)
    {
        var lines = new ProgressLines(console);
        var result = await run(lines).ConfigureAwait(false);
        lines.WriteLast();
        return result;
    }

    public void Summary(LoadTestResult r, IReadOnlyList<string> files)
    {
        console.WriteLine();
        if (r.FatalError is not null)
        {
            console.MarkupLine($"[red bold]The run could not be carried out:[/] {Markup.Escape(r.FatalError)}");
        }

        var t = r.Totals;
        console.MarkupLine(Markup.Escape(
            $"{ReportText.Int(t.Requests)} requests ({ReportText.Int(t.Ok)} ok, {ReportText.Int(t.Failed)} failed, "
            + $"{ReportText.Int(t.Dropped)} dropped) in {ReportText.Num(r.DurationSeconds, "0.0")} s = "
            + $"{ReportText.Num(t.Rps, "0.0")} req/s; error rate {ReportText.Num(t.ErrorRate * 100, "0.###")}%; "
            + $"{ReportText.Int(t.SessionsCreated)} sessions, {ReportText.Int(t.FallbackSessions)} fallback; "
            + $"sent {ReportText.Bytes(t.BytesSent)}, received {ReportText.Bytes(t.BytesReceived)}"));
        if (ReportText.Refusals(r) is { } refusals)
        {
            console.MarkupLine(Markup.Escape($"Refused: {refusals}."));
        }

        foreach (var table in StepTables(r, s => s.Latency, "Latency (ms)", includeAll: true))
        {
            console.Write(table);
        }

        if (r.Steps.Any(s => s.ServiceTime is not null))
        {
            foreach (var table in StepTables(
                r,
                s => s.ServiceTime,
                "Service time (ms), without the coordinated-omission correction",
                includeAll: false))
            {
                console.Write(table);
            }
        }

        var codes = new Table()
            .Title("Status codes and bytes")
            .AddColumn("step")
            .AddColumn("status codes")
            .AddColumn(new TableColumn("sent").RightAligned())
            .AddColumn(new TableColumn("received").RightAligned());
        foreach (var s in r.Steps)
        {
            codes.AddRow(
                Markup.Escape(s.Name),
                Markup.Escape(ReportText.StatusCodes(s.StatusCodes)),
                ReportText.Bytes(s.BytesSent),
                ReportText.Bytes(s.BytesReceived));
        }

        console.Write(codes);
        console.WriteLine();
        foreach (var c in r.Checks)
        {
            var mark = c.Outcome switch
            {
                CheckOutcome.Passed => "[green]PASS[/]",
                CheckOutcome.Failed => "[red bold]FAIL[/]",
                _ => "[grey]SKIP[/]",
            };
            console.MarkupLine($"{mark} {Markup.Escape(c.Name)}: {Markup.Escape(c.Detail)}");
        }

        foreach (var th in r.Thresholds)
        {
            console.MarkupLine(
                $"{(th.Passed ? "[green]PASS[/]" : "[red bold]FAIL[/]")} threshold {Markup.Escape(th.Name)}: {Markup.Escape(th.Detail)}");
        }

        if (files.Count > 0)
        {
            console.MarkupLine($"Reports: {Markup.Escape(Path.GetDirectoryName(files[0]) ?? files[0])}");
        }

        console.MarkupLine(r.Passed
            ? "[green bold]PASSED[/] (exit code 0)"
            : $"[red bold]FAILED[/] (exit code {r.ExitCode}){(r.Interrupted ? " - interrupted" : string.Empty)}");
    }

    /// <summary>One table when the console is wide enough, else counts and percentiles apart.</summary>
    private IEnumerable<Table> StepTables(LoadTestResult r, Func<StepResult, LatencySummary?> pick, string title, bool includeAll)
    {
        string[] counts = ["ok", "failed", "RPS", "min", "mean", "max", "stddev"];
        var percentiles = r.Options.Percentiles.Select(ReportText.Percentile).ToArray();
        var rows = r.Steps
            .Where(s => pick(s) is not null)
            .Select(s => (s.Name, s.Ok, s.Failed, s.Rps, Latency: pick(s)!))
            .ToList();
        if (includeAll)
        {
            rows.Add(("all", r.Totals.Ok, r.Totals.Failed, r.Totals.Rps, r.AllRequests));
        }

        var wide = console.Profile.Width >= 24 + (11 * (counts.Length + percentiles.Length));
        if (wide)
        {
            yield return Build(title, counts.Concat(percentiles), row => Counts(row).Concat(Pcts(row.Latency)));
            yield break;
        }

        yield return Build(title, counts, Counts);
        yield return Build(title + ", percentiles", percentiles, row => Pcts(row.Latency));

        Table Build(string caption, IEnumerable<string> columns,
            Func<(string Name, long Ok, long Failed, double Rps, LatencySummary Latency), IEnumerable<string>> cells)
        {
            var table = new Table().Title(Markup.Escape(caption)).AddColumn("step");
            foreach (var c in columns)
            {
                table.AddColumn(new TableColumn(Markup.Escape(c)).RightAligned());
            }

            foreach (var row in rows)
            {
                table.AddRow([Markup.Escape(row.Name), .. cells(row)]);
            }

            return table;
        }

        static IEnumerable<string> Counts((string Name, long Ok, long Failed, double Rps, LatencySummary Latency) row) =>
        [
            ReportText.Int(row.Ok), ReportText.Int(row.Failed), ReportText.Num(row.Rps, "0.0"), ReportText.Ms(row.Latency.MinMs),
            ReportText.Ms(row.Latency.MeanMs), ReportText.Ms(row.Latency.MaxMs), ReportText.Ms(row.Latency.StdDevMs),
        ];

        static IEnumerable<string> Pcts(LatencySummary l) => l.Percentiles.Select(p => ReportText.Ms(p.Ms));
    }

    private static IRenderable Line(LiveStats? s) => s is null
        ? new Markup("[grey]starting…[/]")
        : new Markup(Markup.Escape(Text(s)));

    private static string Text(LiveStats s) =>
        $"{s.Elapsed:mm\\:ss} req {ReportText.Int(s.Requests)} rps {ReportText.Num(s.Rps, "0.0")} err {ReportText.Int(s.Failed)} " +
        $"drop {ReportText.Int(s.Dropped)} p99 {ReportText.Num(s.CurrentP99Ms, "0.0")}ms inflight {ReportText.Int(s.InFlight)} " +
        $"sessions {ReportText.Int(s.SessionsCreated)}";

    /// <summary>Keeps the newest value, synchronously (no SynchronizationContext hop).</summary>
    private sealed class Latest : IProgress<LiveStats>
    {
        private LiveStats? _value;

        public LiveStats? Value => Volatile.Read(ref _value);

        public void Report(LiveStats value) => Volatile.Write(ref _value, value);
    }

    /// <summary>Writes the sample at each <see cref="ProgressEvery"/> of elapsed time, and the newest one when asked.
    /// Samples come one at a time, in order: the runner's sampler, then its final sample once the sampler stopped.</summary>
    private sealed class ProgressLines(IAnsiConsole console) : IProgress<LiveStats>
    {
        private LiveStats? _latest;
        private LiveStats? _written;
        private TimeSpan _next = ProgressEvery;

        public void Report(LiveStats value)
        {
            _latest = value;
            if (value.Elapsed >= _next)
            {
                Write(value);
                _next = ProgressEvery * (Math.Floor(value.Elapsed / ProgressEvery) + 1);
            }
        }

        /// <summary>The end of the load phase, unless its line was just written.</summary>
        public void WriteLast()
        {
            if (_latest is { } last && !ReferenceEquals(last, _written))
            {
                Write(last);
            }
        }

        private void Write(LiveStats value)
        {
            console.WriteLine("progress " + Text(value));
            _written = value;
        }
    }
}
