using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace MindJourney.Api.Telemetry;

/// <summary>Names and instruments of the storage telemetry (docs/TELEMETRY.md). Dashboards depend on these names:
/// change them only together with the contract.</summary>
public sealed class StorageTelemetry
{
    public const string SourceName = "MindJourney.Storage";

    public const string UploadActivity = "storage.upload";

    public const string ResponseTypeTag = "mindjourney.response.type";
    public const string ResponseIdTag = "mindjourney.response.id";
    public const string AttemptTag = "mindjourney.storage.attempt";
    public const string OutcomeTag = "outcome";
    public const string ErrorTypeTag = "error.type";

    /// <summary>The object is in storage.</summary>
    public const string OutcomeStored = "stored";

    /// <summary>The request could not reach storage in time: the upload is kept and the worker delivers it.</summary>
    public const string OutcomeQueued = "queued";

    /// <summary>A new upload's name was already taken in storage (span only): the request tries the next name.</summary>
    public const string OutcomeNameTaken = "name-taken";

    /// <summary>A file's upload that followed its arrival was stopped: the request refused the file (span only).</summary>
    public const string OutcomeAbandoned = "abandoned";

    /// <summary>A worker's delivery attempt failed; it is retried later.</summary>
    public const string OutcomeFailed = "failed";

    /// <summary>One round of the orphan sweep (<c>MindJourney.Api.Storage.OrphanObjectSweep</c>).</summary>
    public const string OrphanSweepActivity = "storage.orphan_sweep";

    public const string SweepDaysTag = "mindjourney.storage.sweep.days";
    public const string SweepDryRunTag = "mindjourney.storage.sweep.dry_run";
    public const string SweepListedTag = "mindjourney.storage.sweep.listed";
    public const string SweepOrphansTag = "mindjourney.storage.sweep.orphans";
    public const string SweepDeletedTag = "mindjourney.storage.sweep.deleted";

    public static readonly ActivitySource ActivitySource = new(SourceName);

    private readonly Meter _meter;

    public StorageTelemetry(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(SourceName);
        Uploads = _meter.CreateCounter<long>("mindjourney.storage.uploads", "{upload}",
            "Uploads to storage by mindjourney.response.type and outcome (stored, queued, failed).");
        UploadSize = _meter.CreateHistogram<long>("mindjourney.storage.upload.size", "By",
            "Size of the files and texts accepted for storage.",
            advice: new InstrumentAdvice<long>
            {
                HistogramBucketBoundaries = [1_024, 16_384, 131_072, 1_048_576, 8_388_608, 33_554_432, 104_857_600, 209_715_200],
            });
        OrphansDeleted = _meter.CreateCounter<long>("mindjourney.storage.orphans.deleted", "{object}",
            "Objects the orphan sweep deleted from storage: no answer named them (an upload cut short between object and row).");
    }

    public Counter<long> Uploads { get; }
    public Histogram<long> UploadSize { get; }
    public Counter<long> OrphansDeleted { get; }

    /// <summary>Registers <c>mindjourney.storage.pending</c> and <c>mindjourney.storage.pending.bytes</c>; both
    /// functions must answer from a cache.</summary>
    public void ObservePending(Func<long?> pending, Func<long?> pendingBytes)
    {
        _meter.CreateObservableGauge("mindjourney.storage.pending",
            () => pending() is { } count ? [new Measurement<long>(count)] : Array.Empty<Measurement<long>>(),
            "{upload}", "Uploads accepted but not yet delivered to storage.");
        _meter.CreateObservableGauge("mindjourney.storage.pending.bytes",
            () => pendingBytes() is { } bytes ? [new Measurement<long>(bytes)] : Array.Empty<Measurement<long>>(),
            "By", "Bytes of the files' durable copies in the database, not yet delivered (MindJourney:Storage:MaxPendingBytes); " +
            "answers' texts are their own rows and count none.");
    }

    public void RecordUpload(string responseType, string outcome) =>
        Uploads.Add(
            1, new KeyValuePair<string, object?>(ResponseTypeTag, responseType), new KeyValuePair<string, object?>(OutcomeTag, outcome));
}
