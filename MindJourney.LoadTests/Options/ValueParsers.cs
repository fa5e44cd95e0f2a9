using System.Globalization;
using System.Text.RegularExpressions;

namespace MindJourney.LoadTests.Options;

/// <summary>The spellings configuration binding cannot read, accepted alike from the command line and the config file.</summary>
public static partial class ValueParsers
{
    [GeneratedRegex(@"^\s*(?:(?<n>\d+(?:\.\d+)?)\s*(?<u>ms|h|m|s)\s*)+$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex DurationPattern();

    [GeneratedRegex(@"(?<n>\d+(?:\.\d+)?)\s*(?<u>ms|h|m|s)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex DurationPart();

    /// <summary>
    /// Accepts <c>20s</c>, <c>1m</c>, <c>1m30s</c>, <c>500ms</c>, <c>2h</c>, a bare number of seconds (<c>45</c>, <c>0.5</c>)
    /// or a TimeSpan (<c>00:01:30</c>).
    /// </summary>
    public static bool TryParseDuration(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var t = text.Trim();
        if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
        {
            if (!double.IsFinite(seconds) || seconds < 0 || seconds > TimeSpan.MaxValue.TotalSeconds / 2)
            {
                return false;
            }

            value = TimeSpan.FromSeconds(seconds);
            return true;
        }

        if (DurationPattern().IsMatch(t))
        {
            double ms = 0;
            foreach (Match m in DurationPart().Matches(t))
            {
                var n = double.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
                ms += m.Groups["u"].Value.ToLowerInvariant() switch
                {
                    "ms" => n,
                    "s" => n * 1000,
                    "m" => n * 60_000,
                    _ => n * 3_600_000,
                };
            }

            if (ms > TimeSpan.MaxValue.TotalMilliseconds / 2)
            {
                return false;
            }

            value = TimeSpan.FromMilliseconds(ms);
            return true;
        }

        return t.Contains(':', StringComparison.Ordinal) &&
               TimeSpan.TryParse(t, CultureInfo.InvariantCulture, out value) && value >= TimeSpan.Zero;
    }

    /// <summary>Accepts <c>50,75,95,99,99.9</c> (commas, semicolons or spaces).</summary>
    public static bool TryParsePercentiles(string? text, out IReadOnlyList<double> values)
    {
        values = [];
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var list = new List<double>();
        foreach (var part in text.Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var p = part.TrimStart('p', 'P');
            if (!double.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)
                || !double.IsFinite(v) || v <= 0 || v > 100)
            {
                return false;
            }

            list.Add(v);
        }

        values = list.Distinct().Order().ToArray();
        return values.Count > 0;
    }

    /// <summary>Accepts a fraction (<c>0.01</c>) or a percentage (<c>1%</c>).</summary>
    public static bool TryParseRate(string? text, out double fraction)
    {
        fraction = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var t = text.Trim();
        var percent = t.EndsWith('%');
        if (percent)
        {
            t = t[..^1];
        }

        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
        {
            return false;
        }

        fraction = percent ? v / 100 : v;
        return fraction is >= 0 and <= 1;
    }

    /// <summary>Short human form: 1m30s, 20s, 500ms.</summary>
    public static string FormatDuration(TimeSpan t)
    {
        if (t.TotalSeconds < 1)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{t.TotalMilliseconds:0.#}ms");
        }

        var parts = new List<string>();
        if (t.Hours + (t.Days * 24) > 0)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{(t.Days * 24) + t.Hours}h"));
        }

        if (t.Minutes > 0)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{t.Minutes}m"));
        }

        var s = t.Seconds + (t.Milliseconds / 1000.0);
        if (s > 0 || parts.Count == 0)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{s:0.###}s"));
        }

        return string.Concat(parts);
    }
}
