using System.Diagnostics;
using System.Threading.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Which traces are exported: a share of them (<see cref="RatioSetting"/>, default 1: all), at most so many a second
/// (<see cref="MaxPerSecondSetting"/>, default: no bound), and every trace with a span that ended in error or carries a
/// tag named with <see cref="KeepTracesTagged"/>, whatever the share or the bound. A trace not picked is still
/// recorded in this process (not exported) so that such a span can turn it back on when it ends.
/// </summary>
public static class TraceSampling
{
    public const string RatioSetting = "MindJourney:Telemetry:TraceSampleRatio";
    public const double DefaultRatio = 1.0;

    /// <summary>Traces picked a second at most: every trace of a developer's clicks, a bounded sample of a load run.</summary>
    public const string MaxPerSecondSetting = "MindJourney:Telemetry:MaxTracesPerSecond";

    /// <summary>Keeps every trace with a span that ends carrying <paramref name="tag"/> = <paramref name="value"/>.</summary>
    public static IServiceCollection KeepTracesTagged(this IServiceCollection services, string tag, string value) =>
        services.AddSingleton(new KeptTraceTag(tag, value));
}

internal sealed record KeptTraceTag(string Name, string Value);

/// <summary>
/// The ratio picks traces by trace id, at the root and for a caller's context alike: a caller's sampled flag is not
/// believed, since anyone on the public link can send one. The per-second bound, when set, then admits what it has
/// room for this second. Under a span not picked, spans are recorded without being exported, except outgoing calls
/// (database commands, HTTP), which are the bulk and are not recorded at all: the span above each says how it went.
/// </summary>
internal sealed class RatioSampler : Sampler, IDisposable
{
    private static readonly SamplingResult Sample = new(SamplingDecision.RecordAndSample);
    private static readonly SamplingResult RecordOnly = new(SamplingDecision.RecordOnly);
    private static readonly SamplingResult Drop = new(SamplingDecision.Drop);

    private readonly TraceIdRatioBasedSampler _ratio;
    private readonly FixedWindowRateLimiter? _perSecond;

    public RatioSampler(double ratio, int? maxPerSecond)
    {
        _ratio = new TraceIdRatioBasedSampler(ratio);
        _perSecond = maxPerSecond is { } max
            ? new FixedWindowRateLimiter(new FixedWindowRateLimiterOptions
            {
                PermitLimit = max,
                Window = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
            })
            : null;
    }

    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters)
    {
        var parent = samplingParameters.ParentContext;
        if (parent.TraceId != default && !parent.IsRemote)
        {
            return parent.TraceFlags.HasFlag(ActivityTraceFlags.Recorded) ? Sample
                : samplingParameters.Kind == ActivityKind.Client ? Drop
                : RecordOnly;
        }

        return _ratio.ShouldSample(samplingParameters).Decision == SamplingDecision.RecordAndSample && HasRoom() ? Sample : RecordOnly;
    }

    public void Dispose() => _perSecond?.Dispose();

    private bool HasRoom()
    {
        if (_perSecond is null)
        {
            return true;
        }

        using var lease = _perSecond.AttemptAcquire();
        return lease.IsAcquired;
    }
}

/// <summary>
/// Before the exporter: a recorded span not picked by the ratio that ends in error or with a kept tag is exported after
/// all, and so is each span above it in this process still open (the request's own among them). Spans of that trace
/// that ended before it stay unexported.
/// </summary>
internal sealed class KeepNotableTraces(IEnumerable<KeptTraceTag> tags) : BaseProcessor<Activity>
{
    private readonly KeptTraceTag[] _tags = [.. tags];

    public override void OnEnd(Activity data)
    {
        if (data.Recorded || !IsNotable(data))
        {
            return;
        }

        for (var span = data; span is { Recorded: false }; span = span.Parent)
        {
            span.ActivityTraceFlags |= ActivityTraceFlags.Recorded;
        }
    }

    private bool IsNotable(Activity span)
    {
        if (span.Status == ActivityStatusCode.Error)
        {
            return true;
        }

        foreach (var tag in _tags)
        {
            if (span.GetTagItem(tag.Name) is string value && value == tag.Value)
            {
                return true;
            }
        }

        return false;
    }
}
