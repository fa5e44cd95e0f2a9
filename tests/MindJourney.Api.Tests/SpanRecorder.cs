using System.Collections.Concurrent;
using System.Diagnostics;

namespace MindJourney.Api.Tests;

/// <summary>Collects the activities (spans) one ActivitySource completes while it is alive.</summary>
internal sealed class SpanRecorder : IDisposable
{
    private readonly ActivityListener _listener;
    private readonly ConcurrentQueue<Activity> _completed = new();

    public SpanRecorder(string sourceName)
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == sourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _completed.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public IReadOnlyList<Activity> Completed => [.. _completed];

    public void Dispose() => _listener.Dispose();
}
