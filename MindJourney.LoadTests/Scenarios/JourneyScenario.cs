using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using MindJourney.LoadTests.Metrics;
using MindJourney.LoadTests.Runner;

namespace MindJourney.LoadTests.Scenarios;

/// <summary>
/// A whole participant: GET /api/experiment → POST /api/session → GET levels → one text answer per question
/// (POST /api/response) → one small voice upload (multipart, audio/webm) → PATCH /api/session level by level to the
/// last, with isCompleted. Every answer and upload carries its own Idempotency-Key, reused by its retries; the ledger
/// keeps each (<c>answers_exactly_once</c>).
/// </summary>
internal sealed class JourneyScenario(RunContext context) : IScenario
{
    public static readonly IReadOnlyList<string> StepList =
    [
        StepNames.GetExperiment, StepNames.CreateSession, StepNames.GetLevels,
        StepNames.PostResponse, StepNames.Upload, StepNames.PatchSession,
    ];

    /// <summary>Bound on text answers per level (a seeded level with many questions must not dominate the run).</summary>
    internal const int MaxAnswersPerLevel = 5;

    /// <summary>Attempts per answer before the journey gives up: at <c>--flaky 20</c>, one answer in 2.6 million
    /// has every attempt cut.</summary>
    internal const int MaxAttemptsPerAnswer = 8;

    private const string TextType = "text";
    private const string VoiceType = "voice";

    private readonly StepMetrics _getExperiment = context.Metrics.Step(StepNames.GetExperiment);
    private readonly StepMetrics _createSession = context.Metrics.Step(StepNames.CreateSession);
    private readonly StepMetrics _getLevels = context.Metrics.Step(StepNames.GetLevels);
    private readonly StepMetrics _postResponse = context.Metrics.Step(StepNames.PostResponse);
    private readonly StepMetrics _upload = context.Metrics.Step(StepNames.Upload);
    private readonly StepMetrics _patchSession = context.Metrics.Step(StepNames.PatchSession);

    public IReadOnlyList<string> Steps => StepList;

    public async ValueTask<bool> RunIterationAsync(VirtualUser user, long scheduledStartTicks)
    {
        // 1. the active experiment
        var answer = await context.Executor.SendAsync(
            user,
            new HttpRequestMessage(HttpMethod.Get, context.ExperimentUri),
            0,
            scheduledStartTicks,
            context.HardStop).ConfigureAwait(false);
        Guid experimentId;
        int totalLevels;
        try
        {
            var valid = ApiJson.TryReadExperiment(answer.Body, out experimentId, out totalLevels);
            HttpExecutor.Record(_getExperiment, answer, valid);
            if (!answer.IsSuccess || !valid)
            {
                return false;
            }
        }
        finally
        {
            answer.Release();
        }

        // 2. the session (and its visitor number)
        var play = await SessionScenario.CreateSessionAsync(context, _createSession, user, 0).ConfigureAwait(false);
        if (play.Session is not { } session)
        {
            return play.RefusedFull; // a full study's refusal ends the journey as expected
        }

        // 3. the levels
        answer = await context.Executor.SendAsync(
            user,
            new HttpRequestMessage(HttpMethod.Get, new Uri($"{context.ApiBase}/experiment/{experimentId:D}/levels")),
            0,
            0,
            context.HardStop).ConfigureAwait(false);
        List<LevelInfo> levels;
        try
        {
            var valid = ApiJson.TryReadLevels(answer.Body, out levels);
            HttpExecutor.Record(_getLevels, answer, valid);
            if (!answer.IsSuccess || !valid)
            {
                return false;
            }
        }
        finally
        {
            answer.Release();
        }

        // 4. text answers
        foreach (var level in levels)
        {
            var questions = level.QuestionIds.Count == 0 ? ["q1"] : level.QuestionIds.Take(MaxAnswersPerLevel);
            foreach (var question in questions)
            {
                if (!await PostTextAnswerAsync(user, session, level, question).ConfigureAwait(false))
                {
                    return false;
                }
            }
        }

        // 5. one small voice upload
        var first = levels[0];
        if (!await UploadVoiceAsync(user, session, first, first.QuestionIds.Count > 0 ? first.QuestionIds[0] : "q1").ConfigureAwait(false))
        {
            return false;
        }

        // 6. level by level to the end, the last move completing the session: the API takes a completion only at the
        // experiment's last level, so that move names it (the experiment's count, when it says one).
        var lastLevel = totalLevels > 0 ? totalLevels : levels[^1].LevelNumber;
        if (levels.Count == 1)
        {
            return await PatchAsync(user, session, lastLevel, completed: true).ConfigureAwait(false);
        }

        for (var i = 1; i < levels.Count; i++)
        {
            var last = i == levels.Count - 1;
            if (!await PatchAsync(user, session, last ? lastLevel : levels[i].LevelNumber, completed: last).ConfigureAwait(false))
            {
                return false;
            }
        }

        return true;
    }

    private async ValueTask<bool> PostTextAnswerAsync(VirtualUser user, CreatedSession session, LevelInfo level, string questionId)
    {
        var scratch = user.Scratch;
        scratch.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(scratch))
        {
            w.WriteStartObject();
            w.WriteString("sessionId"u8, session.Id);
            w.WriteString("levelId"u8, level.Id);
            w.WriteString("questionId"u8, questionId);
            w.WriteString("responseType"u8, TextType);
            w.WriteStartObject("responseData"u8);
            w.WriteString(
                "text"u8,
                $"Load-test answer to {questionId} on level {level.LevelNumber.ToString(CultureInfo.InvariantCulture)}");
            w.WriteEndObject();
            w.WriteEndObject();
        }

        var body = scratch.WrittenSpan.ToArray();
        var marker = new AnswerMarker(session.Id, level.Id, questionId, TextType);
        return await SendAnswerAsync(user, session, marker, NewRequest, _postResponse, upload: null).ConfigureAwait(false);

        (HttpRequestMessage, long) NewRequest(string key)
        {
            var content = new ByteArrayContent(body);
            content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
            return (new HttpRequestMessage(HttpMethod.Post, context.ResponseUri) { Content = content }, body.Length);
        }
    }

    private async ValueTask<bool> UploadVoiceAsync(VirtualUser user, CreatedSession session, LevelInfo level, string questionId)
    {
        var ordinal = context.NextUploadOrdinal();
        var payload = VoicePayload.Create(ordinal);
        var marker = new AnswerMarker(session.Id, level.Id, questionId, VoiceType);
        return await SendAnswerAsync(user, session, marker, NewRequest, _upload, (ordinal, payload.Length)).ConfigureAwait(false);

        (HttpRequestMessage, long) NewRequest(string key)
        {
            // One boundary per answer: each retry sends the very bytes of the first attempt.
            var form = new MultipartFormDataContent("mj-" + key)
            {
                { new StringContent(session.Id.ToString("D")), "sessionId" },
                { new StringContent(level.Id), "levelId" },
                { new StringContent(questionId), "questionId" },
                { new StringContent(VoiceType), "responseType" },
                {
                    new StringContent($"{{\"durationMs\":1500,\"mimeType\":\"{VoicePayload.ContentType}\","
                        + $"\"loadTestUpload\":{ordinal.ToString(CultureInfo.InvariantCulture)}}}"),
                    "responseData"
                },
            };
            var file = new ByteArrayContent(payload);
            file.Headers.ContentType = new MediaTypeHeaderValue(VoicePayload.ContentType);
            form.Add(file, "file", $"voice-{ordinal.ToString(CultureInfo.InvariantCulture)}.webm");
            return (new HttpRequestMessage(HttpMethod.Post, context.ResponseUri) { Content = form },
                form.Headers.ContentLength ?? payload.Length);
        }
    }

    /// <summary>
    /// Sends one answer under a new Idempotency-Key, retrying with that key when the attempt was cut by
    /// <c>--flaky</c> or lost on the network (a timeout, a transport error), as the page's outbox does. Every attempt but
    /// a cut one is recorded in <paramref name="step"/>; the ledger gets the answer whatever happens, a hard stop
    /// included (it may have been stored).
    /// </summary>
    private async ValueTask<bool> SendAnswerAsync(VirtualUser user, CreatedSession session, AnswerMarker marker,
        Func<string, (HttpRequestMessage Request, long Length)> newRequest, StepMetrics step, (int Ordinal, int Length)? upload)
    {
        var key = Guid.NewGuid().ToString("D");
        int attempts = 0, cuts = 0;
        var acknowledged = false;
        try
        {
            while (true)
            {
                attempts++;
                var cut = context.Flaky.Next();
                var (request, length) = newRequest(key);
                request.Headers.TryAddWithoutValidation(ApiHeaders.IdempotencyKey, key);
                var answer = await context.Executor.SendAsync(user, request, length, 0, context.HardStop, cut).ConfigureAwait(false);
                try
                {
                    var lastTry = attempts >= MaxAttemptsPerAnswer;
                    if (cut != NetworkCut.None)
                    {
                        cuts++;
                        if (!lastTry)
                        {
                            continue;
                        }

                        HttpExecutor.Record(step, answer);
                        return false;
                    }

                    var valid = ApiJson.TryReadResponse(
                        answer.Body, out var responseId, out var number, out var status, out var objectName);
                    HttpExecutor.Record(step, answer, valid);
                    if (!answer.IsSuccess || !valid)
                    {
                        if (answer.Outcome is RequestOutcome.Timeout or RequestOutcome.TransportError && !lastTry)
                        {
                            continue;
                        }

                        return false;
                    }

                    acknowledged = true;
                    context.Ledger.ResponseSeen(session.Id, responseId, session.VisitorNumber, number);
                    if (upload is { } u)
                    {
                        context.Ledger.Uploads.Enqueue(new UploadRecord(
                            responseId, session.Id, u.Ordinal, u.Length, session.VisitorNumber, number, status, objectName));
                    }

                    return true;
                }
                finally
                {
                    answer.Release();
                }
            }
        }
        finally
        {
            context.Ledger.Answers.Enqueue(new SentAnswer(marker, key, attempts, cuts, acknowledged));
        }
    }

    private async ValueTask<bool> PatchAsync(VirtualUser user, CreatedSession session, int level, bool completed)
    {
        var body = completed
            ? System.Text.Encoding.UTF8.GetBytes(
                $"{{\"currentLevel\":{level.ToString(CultureInfo.InvariantCulture)},\"isCompleted\":true}}")
            : System.Text.Encoding.UTF8.GetBytes($"{{\"currentLevel\":{level.ToString(CultureInfo.InvariantCulture)}}}");
        var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        var request = new HttpRequestMessage(HttpMethod.Patch, new Uri($"{context.ApiBase}/session/{session.Id:D}")) { Content = content };
        request.Headers.TryAddWithoutValidation(ApiHeaders.SessionSecret, session.Secret);
        var answer = await context.Executor.SendAsync(user, request, body.Length, 0, context.HardStop).ConfigureAwait(false);
        try
        {
            HttpExecutor.Record(_patchSession, answer);
            return answer.IsSuccess;
        }
        finally
        {
            answer.Release();
        }
    }
}
