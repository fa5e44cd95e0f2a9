using MindJourney.LoadTests.Metrics;
using MindJourney.LoadTests.Runner;

namespace MindJourney.LoadTests.Scenarios;

/// <summary>"Play" only: POST /api/session with a unique Idempotency-Key.</summary>
internal sealed class SessionScenario(RunContext context) : IScenario
{
    public static readonly IReadOnlyList<string> StepList = [StepNames.CreateSession];

    private readonly StepMetrics _step = context.Metrics.Step(StepNames.CreateSession);

    public IReadOnlyList<string> Steps => StepList;

    /// <summary>The problem type of a full study's refusal (MindJourney.Api's StudyProblems).</summary>
    public const string StudyFullProblem = "/problems/study-full";

    public async ValueTask<bool> RunIterationAsync(VirtualUser user, long scheduledStartTicks)
    {
        var play = await CreateSessionAsync(context, _step, user, scheduledStartTicks).ConfigureAwait(false);
        return play.Session is not null || play.RefusedFull;
    }

    /// <summary>POST /api/session: the created session; or, with <c>--expect-full</c>, a refusal because the study is
    /// full (an expected outcome: the iteration ends there, as a participant's would); or neither when the step failed.</summary>
    internal static async ValueTask<Play> CreateSessionAsync(RunContext context, StepMetrics step, VirtualUser user,
        long intendedStartTicks)
    {
        var content = new ReadOnlyMemoryContent(context.SessionBody);
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, context.SessionUri) { Content = content };
        request.Headers.TryAddWithoutValidation(ApiHeaders.IdempotencyKey, context.NextIdempotencyKey());

        var answer = await context.Executor.SendAsync(user, request, context.SessionBody.Length, intendedStartTicks, context.HardStop)
            .ConfigureAwait(false);
        try
        {
            if (context.Options.ExpectFull && answer.Status == 409 && ApiJson.ReadProblem(answer.Body).Type == StudyFullProblem)
            {
                HttpExecutor.RecordRefused(step, answer);
                context.Ledger.RefusedAsFull();
                return new Play(null, RefusedFull: true);
            }

            var valid = ApiJson.TryReadSession(answer.Body, out var id, out var number, out var secret, out var studyNumber);
            HttpExecutor.Record(step, answer, valid);
            if (!answer.IsSuccess || !valid)
            {
                return default;
            }

            context.Ledger.SessionCreated(id, number, studyNumber);
            context.Metrics.SessionCreated();
            return new Play(new CreatedSession(id, number, secret, studyNumber), RefusedFull: false);
        }
        finally
        {
            answer.Release();
        }
    }
}

/// <summary>What one Play came to: a session, an expected refusal (the study is full), or neither (the step failed).</summary>
internal readonly record struct Play(CreatedSession? Session, bool RefusedFull);
