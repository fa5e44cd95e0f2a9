using System.Collections.Concurrent;

namespace MindJourney.LoadTests.Runner;

/// <summary>A session the run created, with the number the API handed out (null = fallback), the secret that
/// reads and updates it, and the study's own participant number (null when the API gives none).</summary>
public sealed record CreatedSession(Guid Id, int? VisitorNumber, string? Secret = null, int? StudyNumber = null);

/// <summary>An upload the run made, and what the API said about it.</summary>
public sealed record UploadRecord(
    Guid ResponseId,
    Guid SessionId,
    int Ordinal,
    int PayloadLength,
    int? SessionNumber,
    int? ResponseNumber,
    string? StorageStatus,
    string? ObjectName);

/// <summary>What tells one answer of a run from every other in the database: the journey sends one answer per
/// session, level, question and type, and each of these is a column of the stored row.</summary>
public readonly record struct AnswerMarker(Guid SessionId, string LevelId, string QuestionId, string ResponseType);

/// <summary>An answer (text or upload) the run sent, with its Idempotency-Key: how many attempts it took, how many of
/// them <c>--flaky</c> cut, and whether a 201 came back in the end.</summary>
public sealed record SentAnswer(AnswerMarker Marker, string Key, int Attempts, int Cuts, bool Acknowledged);

/// <summary>An answer as the database holds it (read back through the admin export).</summary>
public readonly record struct StoredAnswer(AnswerMarker Marker, Guid ResponseId);

/// <summary>What the domain checks need, gathered while the load runs (thread-safe).</summary>
internal sealed class RunLedger
{
    private const int MaxExamples = 10;
    private long _responsesCompared;
    private long _responsesMismatched;
    private int _examples;
    private long _refusedFull;

    public ConcurrentQueue<CreatedSession> Sessions { get; } = new();

    public ConcurrentQueue<UploadRecord> Uploads { get; } = new();

    /// <summary>Every answer and upload sent, acknowledged or not (<c>answers_exactly_once</c>).</summary>
    public ConcurrentQueue<SentAnswer> Answers { get; } = new();

    public ConcurrentQueue<string> MismatchExamples { get; } = new();

    public long ResponsesCompared => Interlocked.Read(ref _responsesCompared);

    public long ResponsesMismatched => Interlocked.Read(ref _responsesMismatched);

    /// <summary>Plays refused because the study is full (409 <c>/problems/study-full</c>), with <c>--expect-full</c>.</summary>
    public long RefusedFull => Interlocked.Read(ref _refusedFull);

    public void SessionCreated(Guid id, int? number, int? studyNumber = null) =>
        Sessions.Enqueue(new CreatedSession(id, number, StudyNumber: studyNumber));

    public void RefusedAsFull() => Interlocked.Increment(ref _refusedFull);

    public void ResponseSeen(Guid sessionId, Guid responseId, int? sessionNumber, int? responseNumber)
    {
        Interlocked.Increment(ref _responsesCompared);
        if (sessionNumber != responseNumber)
        {
            Interlocked.Increment(ref _responsesMismatched);
            if (Interlocked.Increment(ref _examples) <= MaxExamples)
            {
                MismatchExamples.Enqueue(
                    $"response {responseId} of session {sessionId}: {Show(responseNumber)} vs session {Show(sessionNumber)}");
            }
        }
    }

    private static string Show(int? n) => n?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null";
}
