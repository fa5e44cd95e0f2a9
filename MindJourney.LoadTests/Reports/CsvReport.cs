using System.Text;

namespace MindJourney.LoadTests.Reports;

/// <summary>report.csv: one row per step.</summary>
public static class CsvReport
{
    public static string Header(IReadOnlyList<double> percentiles) =>
        "step,requests,ok,failed,refused,rps,min_ms,mean_ms,max_ms,stddev_ms,"
        + string.Concat(percentiles.Select(p => ReportText.PercentileColumn(p) + ","))
        + "bytes_sent,bytes_received,status_codes";

    public static string Render(LoadTestResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var sb = new StringBuilder();
        sb.AppendLine(Header(r.Options.Percentiles));
        foreach (var s in r.Steps)
        {
            var l = s.Latency;
            sb.Append($"{Field(s.Name)},{ReportText.Int(s.Requests)},{ReportText.Int(s.Ok)},{ReportText.Int(s.Failed)},"
                + $"{ReportText.Int(s.Refused)},{N(s.Rps)},{N(l.MinMs)},{N(l.MeanMs)},{N(l.MaxMs)},{N(l.StdDevMs)},");
            foreach (var p in r.Options.Percentiles)
            {
                sb.Append(N(l.At(p) ?? 0)).Append(',');
            }

            sb.AppendLine(
                $"{ReportText.Int(s.BytesSent)},{ReportText.Int(s.BytesReceived)},{Field(ReportText.StatusCodes(s.StatusCodes))}");
        }

        return sb.ToString();
    }

    private static string N(double v) => ReportText.Num(v, "0.###");

    private static string Field(string v) =>
        v.IndexOfAny([',', '"', '\n', '\r', ' ']) >= 0 ? "\"" + v.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : v;
}
