using MindJourney.LoadTests.Runner;

namespace MindJourney.LoadTests.Scenarios;

/// <summary>One iteration of a scenario (one virtual participant).</summary>
internal interface IScenario
{
    /// <summary>The steps this scenario reports, in the order they run.</summary>
    IReadOnlyList<string> Steps { get; }

    /// <summary>
    /// Runs one iteration. <paramref name="scheduledStartTicks"/> is the open model's scheduled arrival (0 in the
    /// closed model); the first request is measured from it. Returns false when a step failed (the iteration stops).
    /// Throws <see cref="OperationCanceledException"/> only on the run's hard stop.
    /// </summary>
    ValueTask<bool> RunIterationAsync(VirtualUser user, long scheduledStartTicks);

    public static IScenario For(Options.ScenarioKind kind, RunContext context) => kind switch
    {
        Options.ScenarioKind.Journey => new JourneyScenario(context),
        _ => new SessionScenario(context),
    };

    public static IReadOnlyList<string> StepsOf(Options.ScenarioKind kind) => kind switch
    {
        Options.ScenarioKind.Journey => JourneyScenario.StepList,
        _ => SessionScenario.StepList,
    };
}
