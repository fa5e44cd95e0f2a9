using System.Net;
using System.Text;
using MindJourney.LoadTests.Checks;

namespace MindJourney.LoadTests.Reports;

/// <summary>
/// report.html: one self-contained file (inline CSS, inline SVG chart, tables). No script, no external reference:
/// even URLs in the text are written so that the file holds no "scheme://" sequence.
/// </summary>
public static class HtmlReport
{
    private const string Css = """
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d2330;background:#fafbfc}
        h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:28px 0 8px}
        .verdict{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;font-weight:600}
        .passed{background:#1f8a4c}.failed{background:#c0392b}.skipped{background:#7f8c8d}
        table{border-collapse:collapse;margin:6px 0;background:#fff}
        th,td{border:1px solid #d9dde3;padding:4px 8px;text-align:right;vertical-align:top}
        th{background:#eef1f5}td.l,th.l{text-align:left}
        ul.meta{padding-left:18px;margin:6px 0}
        .note{color:#555;max-width:900px}
        svg.chart{background:#fff;border:1px solid #d9dde3}
        svg.chart text{font-size:11px;fill:#333}
        svg.chart .plot{fill:#fff;stroke:#bbb}
        svg.chart .grid{stroke:#eee}
        svg.chart .line{fill:none;stroke-width:1.8}
        svg.chart polyline.p50{stroke:#2e86de}svg.chart polyline.p99{stroke:#e74c3c}
        svg.chart rect.p50{fill:#2e86de}svg.chart rect.p99{fill:#e74c3c}
        """;

    public static string Render(LoadTestResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>MindJourney load test: ")
            .Append(ReportText.Verdict(r)).Append("</title><style>").Append(Css).Append("</style></head><body>");
        sb.Append("<h1>MindJourney load test <span class=\"verdict ").Append(r.Passed ? "passed" : "failed").Append("\">")
            .Append(ReportText.Verdict(r)).Append("</span></h1>");
        sb.Append("<ul class=\"meta\">");
        sb.Append("<li>API: ").Append(T(r.Options.ApiUrl.ToString())).Append("</li>");
        sb.Append("<li>Run: ").Append(T(ReportText.Setup(r))).Append("</li>");
        sb.Append("<li>Started ").Append(T(r.StartedAt.ToString("u", System.Globalization.CultureInfo.InvariantCulture)))
            .Append(", load phase ").Append(ReportText.Num(r.DurationSeconds, "0.0")).Append(" s")
            .Append(r.Interrupted ? ", <b>interrupted</b>" : string.Empty).Append("</li>");
        sb.Append("<li>Admin key: ")
            .Append(r.AdminKeyProvided ? "given (audit and download checks ran)" : "not given (audit-based checks skipped)")
            .Append("</li>");
        sb.Append("</ul>");
        if (r.FatalError is not null)
        {
            sb.Append("<p><b>The run could not be carried out:</b> ").Append(T(r.FatalError)).Append("</p>");
        }

        var t = r.Totals;
        sb.Append("<h2>Summary</h2><table><tr><th>requests</th><th>ok</th><th>failed</th><th>dropped</th><th>RPS</th><th>error rate</th>"
            + "<th>iterations ok/failed</th><th>sessions</th><th>fallback (null)</th><th>sent</th><th>received</th></tr><tr>");
        foreach (var cell in new[]
                 {
                     ReportText.Int(t.Requests), ReportText.Int(t.Ok), ReportText.Int(t.Failed), ReportText.Int(t.Dropped),
                     ReportText.Num(t.Rps, "0.0"), ReportText.Num(t.ErrorRate * 100, "0.###") + "%",
                     $"{ReportText.Int(t.IterationsOk)}/{ReportText.Int(t.IterationsFailed)}", ReportText.Int(t.SessionsCreated),
                     ReportText.Int(t.FallbackSessions), ReportText.Bytes(t.BytesSent), ReportText.Bytes(t.BytesReceived),
                 })
        {
            sb.Append("<td>").Append(T(cell)).Append("</td>");
        }

        sb.Append("</tr></table>");
        if (ReportText.Refusals(r) is { } refusals)
        {
            sb.Append("<p>Refused: ").Append(T(refusals)).Append(".</p>");
        }

        sb.Append("<h2>Checks</h2><table><tr><th class=\"l\">check</th><th class=\"l\">outcome</th><th class=\"l\">detail</th></tr>");
        foreach (var c in r.Checks)
        {
            var cls = c.Outcome switch { CheckOutcome.Passed => "passed", CheckOutcome.Failed => "failed", _ => "skipped" };
            sb.Append("<tr><td class=\"l\">").Append(T(c.Name))
                .Append("</td><td class=\"l\"><span class=\"verdict ").Append(cls).Append("\">")
                .Append(ReportText.Outcome(c.Outcome)).Append("</span></td><td class=\"l\">").Append(T(c.Detail)).Append("</td></tr>");
        }

        sb.Append("</table>");

        sb.Append("<h2>Thresholds</h2>");
        if (r.Thresholds.Count == 0)
        {
            sb.Append("<p>None set.</p>");
        }
        else
        {
            sb.Append("<table><tr><th class=\"l\">threshold</th><th>limit</th><th>actual</th><th class=\"l\">outcome</th></tr>");
            foreach (var th in r.Thresholds)
            {
                sb.Append("<tr><td class=\"l\">").Append(T(th.Name)).Append("</td><td>").Append(ReportText.Num(th.Limit, "0.####"))
                    .Append("</td><td>").Append(ReportText.Num(th.Actual, "0.####")).Append("</td><td class=\"l\"><span class=\"verdict ")
                    .Append(th.Passed ? "passed\">passed" : "failed\">FAILED").Append("</span></td></tr>");
            }

            sb.Append("</table>");
        }

        sb.Append("<h2>Latency over time (p50 and p99 per second)</h2>").Append(LatencyChartSvg.Render(r.Series));

        sb.Append("<h2>Steps (latency in ms)</h2>");
        StepTable(sb, r, s => s.Latency, includeAll: true);
        if (r.Steps.Any(s => s.ServiceTime is not null))
        {
            sb.Append("<h2>Service time (send to answer, without the coordinated-omission correction)</h2>");
            StepTable(sb, r, s => s.ServiceTime, includeAll: false);
        }

        sb.Append("<p class=\"note\">").Append(T(ReportText.LatencyNote(r))).Append("</p>");

        sb.Append("<h2>Status codes and bytes</h2><table><tr><th class=\"l\">step</th><th class=\"l\">status codes</th>"
            + "<th>sent</th><th>received</th></tr>");
        foreach (var s in r.Steps)
        {
            sb.Append("<tr><td class=\"l\">").Append(T(s.Name))
                .Append("</td><td class=\"l\">").Append(T(ReportText.StatusCodes(s.StatusCodes)))
                .Append("</td><td>").Append(T(ReportText.Bytes(s.BytesSent)))
                .Append("</td><td>").Append(T(ReportText.Bytes(s.BytesReceived))).Append("</td></tr>");
        }

        sb.Append("</table>");

        if (r.AuditBefore is not null || r.AuditAfter is not null)
        {
            sb.Append("<h2>Audit</h2><table><tr><th class=\"l\">when</th><th>sequenceLastValue</th><th>users</th><th>numberedUsers</th>"
                + "<th>unnumberedSessions</th><th>duplicates</th><th>gaps</th><th>mismatchedSessions</th><th>mismatchedResponses</th>"
                + "<th>pendingUploads</th></tr>");
            foreach (var (when, a) in new[] { ("before", r.AuditBefore), ("after", r.AuditAfter) })
            {
                if (a is null)
                {
                    continue;
                }

                sb.Append("<tr><td class=\"l\">").Append(when).Append("</td>");
                foreach (var v in new long[]
                         {
                             a.SequenceLastValue, a.Users, a.NumberedUsers, a.UnnumberedSessions, a.Duplicates.Count, a.Gaps.Count,
                             a.MismatchedSessions, a.MismatchedResponses, a.PendingUploads,
                         })
                {
                    sb.Append("<td>").Append(ReportText.Int(v)).Append("</td>");
                }

                sb.Append("</tr>");
            }

            sb.Append("</table>");
        }

        sb.Append("</body></html>");
        return sb.ToString();
    }

    private static void StepTable(StringBuilder sb, LoadTestResult r, Func<StepResult, LatencySummary?> pick, bool includeAll)
    {
        sb.Append("<table><tr><th class=\"l\">step</th><th>ok</th><th>failed</th><th>RPS</th>"
            + "<th>min</th><th>mean</th><th>max</th><th>stddev</th>");
        foreach (var p in r.Options.Percentiles)
        {
            sb.Append("<th>").Append(T(ReportText.Percentile(p))).Append("</th>");
        }

        sb.Append("</tr>");
        foreach (var s in r.Steps)
        {
            if (pick(s) is { } summary)
            {
                Row(s.Name, s.Ok, s.Failed, s.Rps, summary);
            }
        }

        if (includeAll)
        {
            Row("all", r.Totals.Ok, r.Totals.Failed, r.Totals.Rps, r.AllRequests);
        }

        sb.Append("</table>");

        void Row(string name, long ok, long failed, double rps, LatencySummary l)
        {
            sb.Append("<tr><td class=\"l\">").Append(T(name)).Append("</td>");
            foreach (var cell in new[]
                     {
                         ReportText.Int(ok), ReportText.Int(failed), ReportText.Num(rps, "0.0"),
                         ReportText.Ms(l.MinMs), ReportText.Ms(l.MeanMs), ReportText.Ms(l.MaxMs), ReportText.Ms(l.StdDevMs),
                     })
            {
                sb.Append("<td>").Append(cell).Append("</td>");
            }

            foreach (var p in l.Percentiles)
            {
                sb.Append("<td>").Append(ReportText.Ms(p.Ms)).Append("</td>");
            }

            sb.Append("</tr>");
        }
    }

    /// <summary>HTML-encoded text in which "://" is written as "&amp;#58;//" (renders the same, references nothing).</summary>
    private static string T(string text) =>
        WebUtility.HtmlEncode(text).Replace("://", "&#58;//", StringComparison.Ordinal);
}
