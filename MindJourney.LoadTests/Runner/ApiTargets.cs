using MindJourney.LoadTests.Metrics;

namespace MindJourney.LoadTests.Runner;

/// <summary>One API instance the load goes to: its base URL (with <c>/api</c>) and the URIs every iteration uses
/// (the study's read names <c>--study</c>, when given).</summary>
internal sealed class ApiTarget(Uri apiUrl, string? study)
{
    private long _downUntilTicks;

    public string ApiBase { get; } = apiUrl.AbsoluteUri.TrimEnd('/');

    public Uri ExperimentUri { get; } = new(apiUrl.AbsoluteUri.TrimEnd('/') + RunContext.ExperimentPath(study));

    public Uri SessionUri { get; } = new(apiUrl.AbsoluteUri.TrimEnd('/') + "/session");

    public Uri ResponseUri { get; } = new(apiUrl.AbsoluteUri.TrimEnd('/') + "/response");

    public string Authority { get; } = apiUrl.Authority;

    public bool IsUp(long now) => Interlocked.Read(ref _downUntilTicks) <= now;

    public void MarkDown(long until) => Interlocked.Exchange(ref _downUntilTicks, until);
}

/// <summary>
/// The instances the load is spread over (<c>--targets</c>), each iteration on the next one in turn, as a
/// round-robin load balancer would. An instance that refused a connection is passed over for
/// <see cref="DownFor"/> (a balancer's passive health check, nginx's <c>fail_timeout</c>); when all are down, the
/// next in turn is tried anyway.
/// </summary>
internal sealed class ApiTargets
{
    public static readonly TimeSpan DownFor = TimeSpan.FromSeconds(2);

    private readonly ApiTarget[] _targets;
    private long _next = -1;

    public ApiTargets(IReadOnlyList<Uri> apiUrls, string? study)
    {
        _targets = apiUrls.Select(u => new ApiTarget(u, study)).ToArray();
    }

    public ApiTarget First => _targets[0];

    public int Count => _targets.Length;

    public ApiTarget Next()
    {
        var now = Ticks.Now;
        var start = Interlocked.Increment(ref _next);
        for (var i = 0; i < _targets.Length; i++)
        {
            var target = _targets[(int)((start + i) % _targets.Length)];
            if (target.IsUp(now))
            {
                return target;
            }
        }

        return _targets[(int)(start % _targets.Length)];
    }

    /// <summary>A connection to <paramref name="uri"/>'s instance failed: pass it over for a while (only when there is
    /// another to go to).</summary>
    public void ConnectionFailed(Uri? uri)
    {
        if (_targets.Length < 2 || uri is null)
        {
            return;
        }

        foreach (var target in _targets)
        {
            if (target.Authority == uri.Authority)
            {
                target.MarkDown(Ticks.Now + Ticks.FromTimeSpan(DownFor));
            }
        }
    }
}
