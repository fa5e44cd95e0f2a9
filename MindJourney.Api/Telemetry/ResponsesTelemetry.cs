using System.Diagnostics.Metrics;

namespace MindJourney.Api.Telemetry;

/// <summary>Names and instruments of the answers' telemetry (docs/TELEMETRY.md). Dashboards depend on these names:
/// change them only together with the contract.</summary>
public sealed class ResponsesTelemetry
{
    public const string SourceName = "MindJourney.Responses";

    /// <summary>What an answer sent with an Idempotency-Key came to.</summary>
    public const string KeyOutcomeTag = "mindjourney.idempotency.outcome";

    /// <summary>The key's first answer, recorded now.</summary>
    public const string KeyFirst = "first";

    /// <summary>A replay: the first answer returned again, nothing stored.</summary>
    public const string KeyReplayed = "replayed";

    /// <summary>The key came with another body: 422, nothing stored.</summary>
    public const string KeyReused = "reused";

    public ResponsesTelemetry(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(SourceName);
        BatchSize = meter.CreateHistogram<int>("mindjourney.responses.batch.size", "{answer}",
            "Answers recorded together by one statement (one round trip, one commit).",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128] });
        BatchFallbacks = meter.CreateCounter<long>("mindjourney.responses.batch.fallbacks", "{statement}",
            "Answer statements PostgreSQL refused as a whole, whose answers were then sent one statement each.");
        IdempotentAnswers = meter.CreateCounter<long>("mindjourney.responses.idempotent", "{answer}",
            "Answers sent with an Idempotency-Key, by mindjourney.idempotency.outcome (first, replayed, reused).");
        DeadlinesPassed = meter.CreateCounter<long>("mindjourney.responses.deadlines_passed", "{answer}",
            "Answers (with or without a file) answered 503 because the database did not answer within "
            + "MindJourney:Database:RequestDeadlineSeconds.");
    }

    public Histogram<int> BatchSize { get; }
    public Counter<long> BatchFallbacks { get; }
    public Counter<long> IdempotentAnswers { get; }
    public Counter<long> DeadlinesPassed { get; }

    public void RecordKey(string outcome) => IdempotentAnswers.Add(1, new KeyValuePair<string, object?>(KeyOutcomeTag, outcome));
}
