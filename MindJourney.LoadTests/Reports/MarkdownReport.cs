using System.Text;

namespace MindJourney.LoadTests.Reports;

/// <summary>report.md</summary>
public static class MarkdownReport
{
    public static string Render(LoadTestResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var sb = new StringBuilder();
        sb.AppendLine($"# MindJourney load test: {ReportText.Verdict(r)}");
        sb.AppendLine();
        sb.AppendLine($"- API: `{r.Options.ApiUrl}`");
        sb.AppendLine($"- Run: {ReportText.Setup(r)}");
        sb.AppendLine($"- Started {r.StartedAt:u}, load phase {ReportText.Num(r.DurationSeconds, "0.0")} s"
            + $"{(r.Interrupted ? ", **interrupted**" : string.Empty)}");
        sb.AppendLine(
            $"- Admin key: {(r.AdminKeyProvided ? "given (audit and download checks ran)" : "not given (audit-based checks skipped)")}");
        if (r.FatalError is not null)
        {
            sb.AppendLine();
            sb.AppendLine($"**The run could not be carried out:** {Cell(r.FatalError)}");
        }

        var t = r.Totals;
        sb.AppendLine();
        sb.AppendLine("## Summary");
        sb.AppendLine();
        sb.AppendLine("| requests | ok | failed | dropped | RPS | error rate | iterations ok/failed | sessions | fallback (null) "
            + "| sent | received |");
        sb.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        sb.AppendLine($"| {ReportText.Int(t.Requests)} | {ReportText.Int(t.Ok)} | {ReportText.Int(t.Failed)} | {ReportText.Int(t.Dropped)} "
            + $"| {ReportText.Num(t.Rps, "0.0")} | {ReportText.Num(t.ErrorRate * 100, "0.###")}% "
            + $"| {ReportText.Int(t.IterationsOk)}/{ReportText.Int(t.IterationsFailed)} "
            + $"| {ReportText.Int(t.SessionsCreated)} | {ReportText.Int(t.FallbackSessions)} "
            + $"| {ReportText.Bytes(t.BytesSent)} | {ReportText.Bytes(t.BytesReceived)} |");
        if (ReportText.Refusals(r) is { } refusals)
        {
            sb.AppendLine();
            sb.AppendLine($"Refused: {refusals}.");
        }

        sb.AppendLine();
        sb.AppendLine("## Checks");
        sb.AppendLine();
        sb.AppendLine("| check | outcome | detail |");
        sb.AppendLine("|---|---|---|");
        foreach (var c in r.Checks)
        {
            sb.AppendLine($"| {c.Name} | {ReportText.Outcome(c.Outcome)} | {Cell(c.Detail)} |");
        }

        sb.AppendLine();
        sb.AppendLine("## Thresholds");
        sb.AppendLine();
        if (r.Thresholds.Count == 0)
        {
            sb.AppendLine("None set.");
        }
        else
        {
            sb.AppendLine("| threshold | limit | actual | outcome |");
            sb.AppendLine("|---|---:|---:|---|");
            foreach (var th in r.Thresholds)
            {
                sb.AppendLine($"| {th.Name} | {ReportText.Num(th.Limit, "0.####")} | {ReportText.Num(th.Actual, "0.####")} "
                    + $"| {(th.Passed ? "passed" : "FAILED")} |");
            }
        }

        sb.AppendLine();
        sb.AppendLine("## Steps (latency in ms)");
        sb.AppendLine();
        AppendStepTable(sb, r, s => s.Latency, includeAll: true);
        if (r.Steps.Any(s => s.ServiceTime is not null))
        {
            sb.AppendLine();
            sb.AppendLine("### Service time (send to answer, without the coordinated-omission correction)");
            sb.AppendLine();
            AppendStepTable(sb, r, s => s.ServiceTime, includeAll: false);
        }

        sb.AppendLine();
        sb.AppendLine(ReportText.LatencyNote(r));
        sb.AppendLine();
        sb.AppendLine("## Status codes and bytes");
        sb.AppendLine();
        sb.AppendLine("| step | status codes | sent | received |");
        sb.AppendLine("|---|---|---:|---:|");
        foreach (var s in r.Steps)
        {
            sb.AppendLine($"| {s.Name} | {ReportText.StatusCodes(s.StatusCodes)} "
                + $"| {ReportText.Bytes(s.BytesSent)} | {ReportText.Bytes(s.BytesReceived)} |");
        }

        if (r.AuditBefore is not null || r.AuditAfter is not null)
        {
            sb.AppendLine();
            sb.AppendLine("## Audit");
            sb.AppendLine();
            sb.AppendLine("| when | sequenceLastValue | users | numberedUsers | unnumberedSessions | duplicates | gaps "
                + "| mismatchedSessions | mismatchedResponses | pendingUploads |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var (when, a) in new[] { ("before", r.AuditBefore), ("after", r.AuditAfter) })
            {
                if (a is not null)
                {
                    sb.AppendLine($"| {when} | {a.SequenceLastValue} | {a.Users} | {a.NumberedUsers} | {a.UnnumberedSessions} "
                        + $"| {a.Duplicates.Count} | {a.Gaps.Count} | {a.MismatchedSessions} | {a.MismatchedResponses} "
                        + $"| {a.PendingUploads} |");
                }
            }
        }

        return sb.ToString();
    }

    private static void AppendStepTable(StringBuilder sb, LoadTestResult r, Func<StepResult, LatencySummary?> pick, bool includeAll)
    {
        var pcts = r.Options.Percentiles;
        sb.Append("| step | ok | failed | RPS | min | mean | max | stddev |");
        foreach (var p in pcts)
        {
            sb.Append($" {ReportText.Percentile(p)} |");
        }

        sb.AppendLine();
        sb.Append("|---|---:|---:|---:|---:|---:|---:|---:|");
        sb.AppendLine(string.Concat(Enumerable.Repeat("---:|", pcts.Count)));
        foreach (var s in r.Steps)
        {
            if (pick(s) is { } summary)
            {
                Row(s.Name, s.Ok, s.Failed, s.Rps, summary);
            }
        }

        if (includeAll)
        {
            Row("**all**", r.Totals.Ok, r.Totals.Failed, r.Totals.Rps, r.AllRequests);
        }

        void Row(string name, long ok, long failed, double rps, LatencySummary l)
        {
            sb.Append($"| {name} | {ReportText.Int(ok)} | {ReportText.Int(failed)} | {ReportText.Num(rps, "0.0")} "
                + $"| {ReportText.Ms(l.MinMs)} | {ReportText.Ms(l.MeanMs)} | {ReportText.Ms(l.MaxMs)} | {ReportText.Ms(l.StdDevMs)} |");
            foreach (var p in l.Percentiles)
            {
                sb.Append($" {ReportText.Ms(p.Ms)} |");
            }

            sb.AppendLine();
        }
    }

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");
}
