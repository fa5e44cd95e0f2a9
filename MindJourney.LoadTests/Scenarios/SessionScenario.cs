using MindJourney.LoadTests.Metrics;
using MindJourney.LoadTests.Runner;

namespace MindJourney.LoadTests.Scenarios;

/// <summary>"Play" only: POST /api/session with a unique Idempotency-Key.</summary>
internal sealed class SessionScenario(RunContext context) : IScenario
{
    public static readonly IReadOnlyList<string> StepList = [StepNames.CreateSession];

    private readonly StepMetrics _step = context.Metrics.Step(StepNames.CreateSession);

    public IReadOnlyList<string> Steps => StepList;

    public async ValueTask<bool> RunIterationAsync(VirtualUser user, long scheduledStartTicks)
    {
        var session = await CreateSessionAsync(context, context.Targets.Next(), _step, user, scheduledStartTicks).ConfigureAwait(false);
        return session is not null;
    }

    /// <summary>POST /api/session; the created session, or null when the step failed.</summary>
    internal static async ValueTask<CreatedSession?> CreateSessionAsync(RunContext context, ApiTarget target, StepMetrics step,
        VirtualUser user, long intendedStartTicks)
    {
        var content = new ReadOnlyMemoryContent(context.SessionBody);
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, target.SessionUri) { Content = content };
        request.Headers.TryAddWithoutValidation(ApiHeaders.IdempotencyKey, context.NextIdempotencyKey());

        var answer = await context.Executor.SendAsync(user, request, context.SessionBody.Length, intendedStartTicks, context.HardStop)
            .ConfigureAwait(false);
        try
        {
            var started = ApiJson.ReadSession(answer.Body);
            HttpExecutor.Record(step, answer, started is not null);
            if (!answer.IsSuccess || started is null)
            {
                return null;
            }

            context.Ledger.SessionCreated(started.Id, started.VisitorNumber);
            context.Acknowledged?.Session(started.Id, started.VisitorNumber, started.StudyParticipantNumber, started.Mode,
                Ticks.ToSeconds(answer.EndTicks - answer.SentTicks) * 1000);
            context.Metrics.SessionCreated();
            return new CreatedSession(started.Id, started.VisitorNumber, started.SessionSecret);
        }
        finally
        {
            answer.Release();
        }
    }
}
