using System.Globalization;
using System.Text.Json;

namespace MindJourney.LoadTests.Options;

/// <summary>
/// A JSON object holding any of the CLI options, by their long names in camelCase or kebab-case
/// (<c>apiUrl</c> or <c>api-url</c>). Durations as strings ("20s") or seconds; percentiles as an array or a string.
/// Unknown keys are errors (a typo must not silently fall back to a default).
/// </summary>
public static class ConfigFileSource
{
    public static OptionLayer Read(string path, ICollection<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            errors.Add($"--config: cannot read '{path}': {e.Message}");
            return OptionLayer.Empty;
        }

        return Parse(text, $"--config {path}", errors);
    }

    public static OptionLayer Parse(string json, string sourceName, ICollection<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            errors.Add($"{sourceName}: not valid JSON: {e.Message}");
            return OptionLayer.Empty;
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                errors.Add($"{sourceName}: the file must hold a JSON object.");
                return OptionLayer.Empty;
            }

            var layer = OptionLayer.Empty;
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                var key = Normalise(p.Name);
                var v = p.Value;
                var where = $"{sourceName}: '{p.Name}'";
                if (v.ValueKind == JsonValueKind.Null)
                {
                    continue;
                }

                switch (key)
                {
                    case "apiurl":
                        if (ValueParsers.TryParseApiUrl(AsText(v), out var url)) layer = layer with { ApiUrl = url };
                        else errors.Add($"{where} must be an absolute http(s) URL.");
                        break;
                    case "users":
                        if (AsInt(v) is { } users) layer = layer with { Users = users };
                        else errors.Add($"{where} must be a whole number.");
                        break;
                    case "duration":
                        if (AsDuration(v) is { } duration) layer = layer with { Duration = duration };
                        else errors.Add($"{where} must be a duration like \"20s\" or \"1m\".");
                        break;
                    case "iterations":
                        if (AsInt(v) is { } iterations) layer = layer with { Iterations = iterations };
                        else errors.Add($"{where} must be a whole number.");
                        break;
                    case "rampup":
                        if (AsDuration(v) is { } ramp) layer = layer with { RampUp = ramp };
                        else errors.Add($"{where} must be a duration like \"5s\".");
                        break;
                    case "rate":
                        if (AsDouble(v) is { } rate) layer = layer with { Rate = rate };
                        else errors.Add($"{where} must be a number of arrivals per second.");
                        break;
                    case "maxinflight":
                        if (AsInt(v) is { } mif) layer = layer with { MaxInFlight = mif };
                        else errors.Add($"{where} must be a whole number.");
                        break;
                    case "scenario":
                        if (ValueParsers.TryParseScenario(AsText(v), out var scenario)) layer = layer with { Scenario = scenario };
                        else errors.Add($"{where} must be \"session\" or \"journey\".");
                        break;
                    case "reportdir":
                        if (AsText(v) is { Length: > 0 } dir) layer = layer with { ReportDir = dir };
                        else errors.Add($"{where} must be a folder path.");
                        break;
                    case "percentiles":
                        if (AsPercentiles(v) is { } pct) layer = layer with { Percentiles = pct };
                        else errors.Add($"{where} must be numbers in (0, 100], e.g. [50, 99, 99.9].");
                        break;
                    case "maxp99ms":
                        if (AsDouble(v) is { } p99) layer = layer with { MaxP99Ms = p99 };
                        else errors.Add($"{where} must be a number of milliseconds.");
                        break;
                    case "maxerrorrate":
                        if (v.ValueKind == JsonValueKind.Number ? v.TryGetDouble(out var er) && er is >= 0 and <= 1 : ValueParsers.TryParseRate(AsText(v), out er))
                            layer = layer with { MaxErrorRate = er };
                        else errors.Add($"{where} must be a fraction 0..1 or a percentage like \"1%\".");
                        break;
                    case "minrps":
                        if (AsDouble(v) is { } minRps) layer = layer with { MinRps = minRps };
                        else errors.Add($"{where} must be a number.");
                        break;
                    case "adminkey":
                        if (AsText(v) is { Length: > 0 } adminKey) layer = layer with { AdminKey = adminKey };
                        else errors.Add($"{where} must be a string.");
                        break;
                    case "allowremote":
                        if (AsBool(v) is { } ar) layer = layer with { AllowRemote = ar };
                        else errors.Add($"{where} must be true or false.");
                        break;
                    case "allowfallback":
                        if (AsBool(v) is { } af) layer = layer with { AllowFallback = af };
                        else errors.Add($"{where} must be true or false.");
                        break;
                    case "quiet":
                        if (AsBool(v) is { } q) layer = layer with { Quiet = q };
                        else errors.Add($"{where} must be true or false.");
                        break;
                    case "timeout":
                        if (AsDuration(v) is { } timeout) layer = layer with { Timeout = timeout };
                        else errors.Add($"{where} must be a duration like \"30s\".");
                        break;
                    case "verifysample":
                        if (AsInt(v) is { } vs) layer = layer with { VerifySample = vs };
                        else errors.Add($"{where} must be a whole number.");
                        break;
                    case "config":
                        errors.Add($"{where}: a config file cannot name another config file.");
                        break;
                    default:
                        errors.Add($"{where} is not a known option.");
                        break;
                }
            }

            return layer;
        }
    }

    private static string Normalise(string name) =>
        new(name.Where(c => c is not ('-' or '_')).Select(char.ToLowerInvariant).ToArray());

    private static string? AsText(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => v.GetString(),
        JsonValueKind.Number => v.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => null,
    };

    private static int? AsInt(JsonElement v) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i :
        v.ValueKind == JsonValueKind.String && int.TryParse(v.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out i) ? i : null;

    private static double? AsDouble(JsonElement v) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) ? d :
        v.ValueKind == JsonValueKind.String && double.TryParse(v.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out d) ? d : null;

    private static bool? AsBool(JsonElement v) =>
        v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.String when ValueParsers.TryParseBool(v.GetString(), out var b) => b,
            _ => null,
        };

    private static TimeSpan? AsDuration(JsonElement v) =>
        ValueParsers.TryParseDuration(AsText(v), out var t) ? t : null;

    private static IReadOnlyList<double>? AsPercentiles(JsonElement v)
    {
        if (v.ValueKind == JsonValueKind.Array)
        {
            var list = new List<double>();
            foreach (var e in v.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Number || !e.TryGetDouble(out var d) || d <= 0 || d > 100)
                {
                    return null;
                }

                list.Add(d);
            }

            return list.Count > 0 ? ValueParsers.NormalisePercentiles(list) : null;
        }

        return ValueParsers.TryParsePercentiles(AsText(v), out var parsed) ? parsed : null;
    }
}
