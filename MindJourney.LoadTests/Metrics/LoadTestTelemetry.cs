using System.Diagnostics.Metrics;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace MindJourney.LoadTests.Metrics;

/// <summary>
/// The client's view of a run as OpenTelemetry metrics, so the dashboard shows it beside the API's own: latency per
/// step (from the scheduled start, as in the report) and requests per step and outcome. Exported over OTLP only when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the AppHost sets it); recording without a listener costs nothing.
/// </summary>
public static class LoadTestTelemetry
{
    public const string MeterName = "MindJourney.LoadTests";
    public const string StepTag = "mindjourney.loadtest.step";
    public const string OutcomeTag = "mindjourney.loadtest.outcome";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>(
        "mindjourney.loadtest.request.duration", "s", "Latency of one request as the client saw it, from its scheduled start");

    private static readonly Counter<long> Requests = Meter.CreateCounter<long>(
        "mindjourney.loadtest.requests", "{request}", "Requests sent, by step and outcome (ok or the kind of failure)");

    public static void Record(string step, RequestOutcome outcome, long intendedStartTicks, long endTicks)
    {
        if (Duration.Enabled)
        {
            Duration.Record(Ticks.ToSeconds(endTicks - intendedStartTicks), new KeyValuePair<string, object?>(StepTag, step));
        }

        if (Requests.Enabled)
        {
            Requests.Add(1, new KeyValuePair<string, object?>(StepTag, step),
                new KeyValuePair<string, object?>(OutcomeTag, OutcomeName(outcome)));
        }
    }

    /// <summary>An OTLP exporter for the run when the environment names an endpoint (service name and attributes come
    /// from <c>OTEL_SERVICE_NAME</c> and <c>OTEL_RESOURCE_ATTRIBUTES</c>); disposing it sends what is left.</summary>
    public static MeterProvider? ExportIfConfigured() =>
        string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT"))
            ? null
            : Sdk.CreateMeterProviderBuilder().AddMeter(MeterName).AddOtlpExporter().Build();

    private static string OutcomeName(RequestOutcome outcome) => outcome switch
    {
        RequestOutcome.Ok => "ok",
        RequestOutcome.HttpError => "http_error",
        RequestOutcome.InvalidResponse => "invalid_response",
        RequestOutcome.Timeout => "timeout",
        RequestOutcome.Refused => "refused",
        _ => "transport_error",
    };
}
