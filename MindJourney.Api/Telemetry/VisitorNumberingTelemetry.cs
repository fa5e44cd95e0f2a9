using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace MindJourney.Api.Telemetry;

/// <summary>Names and instruments of the visitor-numbering telemetry (docs/TELEMETRY.md). Dashboards depend on
/// these names: change them only together with the contract.</summary>
public sealed class VisitorNumberingTelemetry
{
    public const string SourceName = "MindJourney.VisitorNumbering";

    public const string AssignActivity = "visitor_number.assign";
    public const string RecoverActivity = "visitor_number.recover";

    public const string SessionIdTag = "mindjourney.session.id";
    public const string VisitorNumberTag = "mindjourney.visitor.number";
    public const string OutcomeTag = "mindjourney.visitor_number.outcome";
    public const string ErrorTypeTag = "error.type";

    /// <summary>live or pilot (a pilot's number comes from its own sequence).</summary>
    public const string ModeTag = "mindjourney.session.mode";

    /// <summary>The condition the number assigned (absent when the experiment declares none or no number was given).</summary>
    public const string ConditionTag = "mindjourney.condition";

    public const string OutcomeAssigned = "assigned";
    public const string OutcomeReused = "reused";
    public const string OutcomeFallback = "fallback";

    public static readonly ActivitySource ActivitySource = new(SourceName);

    private readonly Meter _meter;

    public VisitorNumberingTelemetry(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(SourceName);
        Assignments = _meter.CreateCounter<long>("mindjourney.visitor_number.assignments", "{assignment}",
            "Sessions given a visitor number, by outcome (assigned, reused, fallback), mode and condition.");
        Fallbacks = _meter.CreateCounter<long>("mindjourney.visitor_number.fallbacks", "{session}",
            "Sessions created without a visitor number because numbering failed, by error.type.");
        AssignDuration = _meter.CreateHistogram<double>("mindjourney.visitor_number.assign.duration", "s",
            "Time to create a session with its visitor number, database round trip included.",
            advice: new InstrumentAdvice<double>
            {
                HistogramBucketBoundaries = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
            });
        BatchSize = _meter.CreateHistogram<int>("mindjourney.visitor_number.batch.size", "{session}",
            "New visitors numbered together by one statement (one round trip, one commit).",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128] });
        Recovered = _meter.CreateCounter<long>("mindjourney.visitor_number.recovered", "{session}",
            "Sessions numbered after the fact by the admin recovery.");
        RateLimited = _meter.CreateCounter<long>("mindjourney.visitor_number.rate_limited", "{request}",
            "Requests refused with 429 because one client sent too many, by mindjourney.rate_limit.policy.");
        DeadlinesPassed = _meter.CreateCounter<long>("mindjourney.visitor_number.deadlines_passed", "{request}",
            "Plays answered 503 because the database did not answer within MindJourney:Database:RequestDeadlineSeconds.");
        OtherDeadlinesPassed = _meter.CreateCounter<long>("mindjourney.visitor_number.other_deadlines_passed", "{request}",
            "Participant requests other than Play and answers (session reads and updates, the study, answer lists, downloads, "
            + "session secrets) answered 503 because the database did not answer within MindJourney:Database:RequestDeadlineSeconds.");
    }

    public Counter<long> Assignments { get; }
    public Counter<long> Fallbacks { get; }
    public Histogram<double> AssignDuration { get; }
    public Histogram<int> BatchSize { get; }
    public Counter<long> Recovered { get; }
    public Counter<long> RateLimited { get; }
    public Counter<long> DeadlinesPassed { get; }
    public Counter<long> OtherDeadlinesPassed { get; }

}
