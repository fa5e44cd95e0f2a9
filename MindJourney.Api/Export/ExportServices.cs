using Microsoft.Extensions.Options;
using MindJourney.Api.Admin;
using MindJourney.Api.Storage;

namespace MindJourney.Api.Export;

/// <summary>What an export reads from and records to, bound as one <c>[AsParameters]</c> argument.</summary>
public sealed class ExportServices(
    BulkDataSource bulk,
    DeliveryOutbox deliveries,
    ResponseStorage storage,
    AdminActionLog actions,
    IOptions<StorageOptions> storageOptions,
    ExportGate gate,
    ILoggerFactory loggers)
{
    public BulkDataSource Bulk { get; } = bulk;

    public DeliveryOutbox Deliveries { get; } = deliveries;

    public ResponseStorage Storage { get; } = storage;

    public AdminActionLog Actions { get; } = actions;

    public IOptions<StorageOptions> StorageOptions { get; } = storageOptions;

    public ExportGate Gate { get; } = gate;

    public ILoggerFactory Loggers { get; } = loggers;
}
