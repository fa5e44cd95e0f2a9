using System.Globalization;
using System.Text;
using MindJourney.LoadTests.Metrics;
using MindJourney.LoadTests.Options;

namespace MindJourney.LoadTests.Runner;

/// <summary>Per-run constants (URIs, the session body) and shared services, built once before the load starts.</summary>
internal sealed class RunContext
{
    private readonly string _keyPrefix;
    private long _idempotencyCounter;
    private int _uploadCounter;

    public RunContext(LoadTestOptions options, HttpExecutor executor, MetricsCollector metrics, RunLedger ledger, Guid experimentId,
        CancellationToken hardStop)
    {
        Options = options;
        Executor = executor;
        Metrics = metrics;
        Ledger = ledger;
        ExperimentId = experimentId;
        HardStop = hardStop;
        ApiBase = options.ApiUrl.AbsoluteUri.TrimEnd('/');
        ExperimentUri = new Uri(ApiBase + ExperimentPath(options.Study));
        SessionUri = new Uri(ApiBase + "/session");
        ResponseUri = new Uri(ApiBase + "/response");
        SessionBody = Encoding.UTF8.GetBytes($"{{\"experimentId\":\"{experimentId:D}\"}}");
        _keyPrefix = "loadtest-" + Guid.NewGuid().ToString("N")[..12] + "-";
        Flaky = new FlakyNetwork(options.Flaky);
    }

    public LoadTestOptions Options { get; }

    public HttpExecutor Executor { get; }

    public MetricsCollector Metrics { get; }

    public RunLedger Ledger { get; }

    /// <summary>Which answer and upload attempts <c>--flaky</c> cuts.</summary>
    public FlakyNetwork Flaky { get; }

    public Guid ExperimentId { get; }

    public CancellationToken HardStop { get; }

    public string ApiBase { get; }

    public Uri ExperimentUri { get; }

    public Uri SessionUri { get; }

    public Uri ResponseUri { get; }

    /// <summary><c>{"experimentId":"..."}</c>, shared read-only by every POST /api/session.</summary>
    public ReadOnlyMemory<byte> SessionBody { get; }

    /// <summary>The page's study read: the study of <c>--study</c>, else the most recently opened one.</summary>
    public static string ExperimentPath(string? study) =>
        study is null ? "/experiment" : "/experiment?study=" + Uri.EscapeDataString(study);

    /// <summary>A key unique to this request (run prefix + counter).</summary>
    public string NextIdempotencyKey()
    {
        var n = Interlocked.Increment(ref _idempotencyCounter);
        return string.Create(CultureInfo.InvariantCulture, $"{_keyPrefix}{n}");
    }

    public int NextUploadOrdinal() => Interlocked.Increment(ref _uploadCounter);
}
