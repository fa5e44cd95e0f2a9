using System.Text.Json;
using System.Text.Json.Serialization;

namespace MindJourney.LoadTests.Reports;

/// <summary>report.json: the whole <see cref="LoadTestResult"/> (per-second series and checks included), camelCase.</summary>
public static class ReportJson
{
    public static JsonSerializerOptions SerializerOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static string Serialize(LoadTestResult result) => JsonSerializer.Serialize(result, SerializerOptions);

    public static LoadTestResult Deserialize(string json) =>
        JsonSerializer.Deserialize<LoadTestResult>(json, SerializerOptions)
        ?? throw new JsonException("report.json holds no result.");
}
