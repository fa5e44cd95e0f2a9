using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using MindJourney.LoadTests.Metrics;
using MindJourney.LoadTests.Runner;

namespace MindJourney.LoadTests.Scenarios;

/// <summary>
/// A whole participant: GET /api/experiment → POST /api/session → GET levels → one text answer per question
/// (POST /api/response) → one small voice upload (multipart, audio/webm) → PATCH /api/session level by level to the
/// last, with isCompleted.
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
        var session = await SessionScenario.CreateSessionAsync(context, _createSession, user, 0).ConfigureAwait(false);
        if (session is null)
        {
            return false;
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
            w.WriteString("responseType"u8, "text"u8);
            w.WriteStartObject("responseData"u8);
            w.WriteString(
                "text"u8,
                $"Load-test answer to {questionId} on level {level.LevelNumber.ToString(CultureInfo.InvariantCulture)}");
            w.WriteEndObject();
            w.WriteEndObject();
        }

        var body = scratch.WrittenSpan.ToArray();
        var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, context.ResponseUri) { Content = content };
        return await SendResponseAsync(user, session, request, body.Length, _postResponse, upload: null).ConfigureAwait(false);
    }

    private async ValueTask<bool> UploadVoiceAsync(VirtualUser user, CreatedSession session, LevelInfo level, string questionId)
    {
        var ordinal = context.NextUploadOrdinal();
        var payload = VoicePayload.Create(ordinal);
        var form = new MultipartFormDataContent
        {
            { new StringContent(session.Id.ToString("D")), "sessionId" },
            { new StringContent(level.Id), "levelId" },
            { new StringContent(questionId), "questionId" },
            { new StringContent("voice"), "responseType" },
            {
                new StringContent($"{{\"durationMs\":1500,\"mimeType\":\"{VoicePayload.ContentType}\","
                    + $"\"loadTestUpload\":{ordinal.ToString(CultureInfo.InvariantCulture)}}}"),
                "responseData"
            },
        };
        var file = new ByteArrayContent(payload);
        file.Headers.ContentType = new MediaTypeHeaderValue(VoicePayload.ContentType);
        form.Add(file, "file", $"voice-{ordinal.ToString(CultureInfo.InvariantCulture)}.webm");
        var length = form.Headers.ContentLength ?? payload.Length;
        var request = new HttpRequestMessage(HttpMethod.Post, context.ResponseUri) { Content = form };
        return await SendResponseAsync(user, session, request, length, _upload, (ordinal, payload.Length)).ConfigureAwait(false);
    }

    private async ValueTask<bool> SendResponseAsync(VirtualUser user, CreatedSession session, HttpRequestMessage request, long bytesSent,
        StepMetrics step, (int Ordinal, int Length)? upload)
    {
        var answer = await context.Executor.SendAsync(user, request, bytesSent, 0, context.HardStop).ConfigureAwait(false);
        try
        {
            var valid = ApiJson.TryReadResponse(answer.Body, out var responseId, out var number, out var status, out var objectName);
            HttpExecutor.Record(step, answer, valid);
            if (!answer.IsSuccess || !valid)
            {
                return false;
            }

            context.Ledger.ResponseSeen(session.Id, responseId, session.VisitorNumber, number);
            if (upload is { } u)
            {
                context.Ledger.Uploads.Enqueue(
                    new UploadRecord(responseId, session.Id, u.Ordinal, u.Length, session.VisitorNumber, number, status, objectName));
            }

            return true;
        }
        finally
        {
            answer.Release();
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
        request.Headers.TryAddWithoutValidation("X-Session-Secret", session.Secret);
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
