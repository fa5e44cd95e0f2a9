using System.Collections.Concurrent;

namespace MindJourney.LoadTests.Runner;

/// <summary>A session the run created, with the number the API handed out (null = fallback) and the secret that
/// reads and updates it.</summary>
public sealed record CreatedSession(Guid Id, int? VisitorNumber, string? Secret = null);

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

/// <summary>What the domain checks need, gathered while the load runs (thread-safe).</summary>
internal sealed class RunLedger
{
    private const int MaxExamples = 10;
    private long _responsesCompared;
    private long _responsesMismatched;
    private int _examples;

    public ConcurrentQueue<CreatedSession> Sessions { get; } = new();

    public ConcurrentQueue<UploadRecord> Uploads { get; } = new();

    public ConcurrentQueue<string> MismatchExamples { get; } = new();

    public long ResponsesCompared => Interlocked.Read(ref _responsesCompared);

    public long ResponsesMismatched => Interlocked.Read(ref _responsesMismatched);

    public void SessionCreated(Guid id, int? number) => Sessions.Enqueue(new CreatedSession(id, number));

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
