using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MindJourney.LoadTests.Metrics;
using MindJourney.LoadTests.Options;
using MindJourney.LoadTests.Runner;
using MindJourney.LoadTests.Scenarios;
using MindJourney.LoadTests.Tests.TestDoubles;

namespace MindJourney.LoadTests.Tests;

[CollectionDefinition(nameof(TelemetryTests), DisableParallelization = true)]
public sealed class TelemetryCollection;

/// <summary>The client's metrics (what the AppHost exports to the dashboard over OTLP): one latency and one request
/// per request sent, by step and outcome. Alone in its collection, so no other run's requests are counted.</summary>
[Collection(nameof(TelemetryTests))]
public sealed class TelemetryTests
{
    [Fact]
    public async Task Every_request_is_recorded_by_step_with_its_latency_and_outcome()
    {
        var requests = new ConcurrentDictionary<(string?, string?), long>();
        var latencies = new ConcurrentBag<double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == LoadTestTelemetry.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            requests.AddOrUpdate((Tag(tags, LoadTestTelemetry.StepTag), Tag(tags, LoadTestTelemetry.OutcomeTag)), value,
                (_, sum) => sum + value));
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            Assert.Equal(StepNames.CreateSession, Tag(tags, LoadTestTelemetry.StepTag));
            latencies.Add(value);
        });
        listener.Start();
        await using var api = await TinyVisitorApi.StartAsync();

        var result = await LoadTestRunner.RunAsync(new LoadTestOptions { ApiUrl = api.ApiUrl, Users = 4, Iterations = 25 });

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(100, requests[(StepNames.CreateSession, "ok")]);
        Assert.Single(requests);
        Assert.Equal(100, latencies.Count);
        Assert.All(latencies, seconds => Assert.InRange(seconds, 1e-6, 30));
    }

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string name)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == name)
            {
                return tag.Value as string;
            }
        }

        return null;
    }
}
