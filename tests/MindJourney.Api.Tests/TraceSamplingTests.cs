using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using MindJourney.Api.Telemetry;
using MindJourney.Testing;
using Npgsql;
using OpenTelemetry.Trace;

namespace MindJourney.Api.Tests;

/// <summary>What reaches a real exporter (OpenTelemetry's in-memory one, behind the API's own sampler and processors):
/// the share of traces the setting asks for, and every fallback and error trace whatever the share.</summary>
[Collection(TraceSamplingCollection.Name)]
public sealed class TraceSamplingTests(PostgresServer postgres)
{
    private const string PlayPath = "/api/session";

    [Fact]
    public async Task At_ratio_0_only_fallback_and_error_traces_are_exported_and_at_ratio_1_every_trace()
    {
        var exported = new List<Activity>();
        Guid normalId, fallbackId;
        await using (var api = await StartAsync("0", exported))
        {
            var experimentId = await api.ActiveExperimentIdAsync();
            normalId = (await PlayAsync(api, experimentId)).GetProperty("id").GetGuid();
            await PlayAsync(api, experimentId);
            await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence MAXVALUE 2"); // the next Play is a fallback
            var fallback = await PlayAsync(api, experimentId);
            Assert.Equal(JsonValueKind.Null, fallback.GetProperty("visitorNumber").ValueKind);
            fallbackId = fallback.GetProperty("id").GetGuid();
            await PlayWhileTheDatabaseRefusesAsync(api, experimentId);
        } // disposing the host ends every span and flushes the exporter

        Assert.DoesNotContain(exported, span => Equals(span.GetTagItem(VisitorNumberingTelemetry.SessionIdTag), normalId));
        var assign = Assert.Single(exported, span => span.OperationName == VisitorNumberingTelemetry.AssignActivity);
        Assert.Equal(fallbackId, assign.GetTagItem(VisitorNumberingTelemetry.SessionIdTag));
        Assert.Equal(VisitorNumberingTelemetry.OutcomeFallback, assign.GetTagItem(VisitorNumberingTelemetry.OutcomeTag));
        var plays = exported.Where(IsPlay).ToList();
        Assert.Equal(2, plays.Count);
        Assert.Contains(plays, play => play.TraceId == assign.TraceId); // the request's own span, kept with it
        Assert.Contains(plays, play =>
            play.Status == ActivityStatusCode.Error && Equals(play.GetTagItem("http.response.status_code"), 503));

        exported.Clear();
        await using (var api = await StartAsync("1", exported))
        {
            normalId = (await PlayAsync(api, await api.ActiveExperimentIdAsync())).GetProperty("id").GetGuid();
        }

        var traceId = Assert.Single(exported, span => Equals(span.GetTagItem(VisitorNumberingTelemetry.SessionIdTag), normalId)).TraceId;
        Assert.Contains(exported, span => span.TraceId == traceId && IsPlay(span));
        Assert.Contains(exported, span => span.TraceId == traceId && span.Source.Name == "Npgsql");
    }

    [Fact]
    public async Task A_bound_of_3_traces_a_second_keeps_a_burst_of_plays_to_it_and_still_exports_the_fallback()
    {
        var exported = new List<Activity>();
        var stopwatch = Stopwatch.StartNew();
        Guid fallbackId;
        await using (var api = await StartAsync("1", exported, maxPerSecond: "3"))
        {
            var experimentId = await api.ActiveExperimentIdAsync();
            stopwatch.Restart();
            for (var i = 0; i < 30; i++)
            {
                await PlayAsync(api, experimentId);
            }

            await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence MAXVALUE 30"); // the next Play is a fallback
            fallbackId = (await PlayAsync(api, experimentId)).GetProperty("id").GetGuid();
            stopwatch.Stop();
        }

        // One window of 3 a second, plus one more for each second the burst took (a slow machine gets more).
        var allowed = 3 * ((int)stopwatch.Elapsed.TotalSeconds + 2);
        var plays = exported.Where(IsPlay).ToList();
        Assert.InRange(plays.Count, 1, Math.Min(allowed, 30));
        var fallback = Assert.Single(exported, span => span.OperationName == VisitorNumberingTelemetry.AssignActivity
            && Equals(span.GetTagItem(VisitorNumberingTelemetry.OutcomeTag), VisitorNumberingTelemetry.OutcomeFallback));
        Assert.Equal(fallbackId, fallback.GetTagItem(VisitorNumberingTelemetry.SessionIdTag));
    }

    private static bool IsPlay(Activity span) =>
        span.Kind == ActivityKind.Server && (string?)span.GetTagItem("url.path") == PlayPath;

    private Task<TestApi> StartAsync(string ratio, List<Activity> exported, string? maxPerSecond = null) =>
        TestApi.StartAsync(postgres,
            settings: new Dictionary<string, string?>
            {
                [TraceSampling.RatioSetting] = ratio,
                [TraceSampling.MaxPerSecondSetting] = maxPerSecond,
            },
            services: services => services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(exported)));

    private static async Task<JsonElement> PlayAsync(TestApi api, Guid experimentId)
    {
        var response = await api.Client.PostAsJsonAsync(PlayPath, new { experimentId });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>One Play while the database refuses connections: 503, a request span that ends in error.</summary>
    private async Task PlayWhileTheDatabaseRefusesAsync(TestApi api, Guid experimentId)
    {
        var database = await api.ScalarAsync<string>("SELECT current_database()");
        await using var admin = new NpgsqlConnection(postgres.AdminConnectionString);
        await admin.OpenAsync();
        await using (var close = new NpgsqlCommand($"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS false; " +
            $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'", admin))
        {
            await close.ExecuteNonQueryAsync();
        }

        try
        {
            var response = await api.Client.PostAsJsonAsync(PlayPath, new { experimentId });
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }
        finally
        {
            await using var open = new NpgsqlCommand($"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS true", admin);
            await open.ExecuteNonQueryAsync();
        }
    }
}

/// <summary>Alone, after every other collection: whether a span is recorded is decided by every tracer provider in the
/// process at once, so another API host alive meanwhile (with its own share) would record what this one leaves out.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TraceSamplingCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "trace sampling";
}
