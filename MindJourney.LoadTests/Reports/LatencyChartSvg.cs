using System.Globalization;
using System.Text;

namespace MindJourney.LoadTests.Reports;

/// <summary>An inline SVG line chart of p50 and p99 per second (no script, no external reference).</summary>
public static class LatencyChartSvg
{
    private const int Width = 860;
    private const int Height = 300;
    private const int Left = 64;
    private const int Right = 20;
    private const int Top = 24;
    private const int Bottom = 44;

    public static string Render(IReadOnlyList<SecondSample> series)
    {
        ArgumentNullException.ThrowIfNull(series);
        var sb = new StringBuilder();
        sb.Append(
            CultureInfo.InvariantCulture,
            $"<svg class=\"chart\" viewBox=\"0 0 {Width} {Height}\" width=\"{Width}\" height=\"{Height}\" role=\"img\" "
            + $"aria-label=\"Latency over time: p50 and p99 per second\">");
        var plotW = Width - Left - Right;
        var plotH = Height - Top - Bottom;
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotW}\" height=\"{plotH}\" class=\"plot\"/>");
        if (series.Count == 0)
        {
            sb.Append(
                CultureInfo.InvariantCulture,
                $"<text x=\"{Width / 2}\" y=\"{Height / 2}\" text-anchor=\"middle\">no samples</text></svg>");
            return sb.ToString();
        }

        var maxX = Math.Max(series[^1].ElapsedSeconds, 1);
        var maxY = NiceCeiling(Math.Max(series.Max(s => s.P99Ms), 0.001));

        // y grid and labels
        for (var i = 0; i <= 5; i++)
        {
            var v = maxY * i / 5;
            var y = Top + plotH - (plotH * i / 5.0);
            sb.Append(
                CultureInfo.InvariantCulture,
                $"<line x1=\"{Left}\" y1=\"{y:0.#}\" x2=\"{Left + plotW}\" y2=\"{y:0.#}\" class=\"grid\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{y + 4:0.#}\" text-anchor=\"end\">{Label(v)}</text>");
        }

        // x labels
        var xStep = NiceCeiling(maxX / 8);
        for (var x = 0.0; x <= maxX + 1e-9; x += xStep)
        {
            var px = Left + (plotW * x / maxX);
            sb.Append(
                CultureInfo.InvariantCulture,
                $"<text x=\"{px:0.#}\" y=\"{Top + plotH + 16}\" text-anchor=\"middle\">{x:0.##}s</text>");
        }

        sb.Append(
            CultureInfo.InvariantCulture,
            $"<text x=\"{Left + (plotW / 2)}\" y=\"{Height - 6}\" text-anchor=\"middle\">elapsed (s)</text>");
        sb.Append(
            CultureInfo.InvariantCulture,
            $"<text x=\"14\" y=\"{Top + (plotH / 2)}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {Top + (plotH / 2)})\">"
            + $"latency (ms)</text>");

        Line("p50", s => s.P50Ms);
        Line("p99", s => s.P99Ms);

        // legend
        sb.Append(
            CultureInfo.InvariantCulture,
            $"<g transform=\"translate({Left + 10},{Top + 8})\">"
            + $"<rect width=\"12\" height=\"4\" y=\"4\" class=\"p50\"/><text x=\"18\" y=\"10\">p50</text>"
            + $"<rect x=\"60\" width=\"12\" height=\"4\" y=\"4\" class=\"p99\"/><text x=\"78\" y=\"10\">p99</text></g>");
        sb.Append("</svg>");
        return sb.ToString();

        void Line(string cls, Func<SecondSample, double> pick)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<polyline class=\"line {cls}\" points=\"");
            foreach (var s in series)
            {
                var px = Left + (plotW * s.ElapsedSeconds / maxX);
                var py = Top + plotH - (plotH * Math.Min(pick(s), maxY) / maxY);
                sb.Append(CultureInfo.InvariantCulture, $"{px:0.#},{py:0.#} ");
            }

            sb.Append("\"/>");
        }
    }

    /// <summary>1, 2, 2.5, 5 × 10^n at or above <paramref name="v"/>.</summary>
    internal static double NiceCeiling(double v)
    {
        if (v <= 0)
        {
            return 1;
        }

        var exp = Math.Pow(10, Math.Floor(Math.Log10(v)));
        foreach (var m in new[] { 1, 2, 2.5, 5, 10 })
        {
            if (m * exp >= v - 1e-12)
            {
                return m * exp;
            }
        }

        return 10 * exp;
    }

    private static string Label(double ms) => ms.ToString(ms >= 10 ? "0" : ms >= 1 ? "0.#" : "0.###", CultureInfo.InvariantCulture);
}
