using Microsoft.Extensions.Options;
using MindJourney.Api.Storage;
using MindJourney.Api.Telemetry;

namespace MindJourney.Api.Responses;

/// <summary>What recording an answer needs, bound as one <c>[AsParameters]</c> argument.</summary>
public sealed class ResponseServices(
    ResponseRecorder recorder,
    ResponseStorage storage,
    UploadDeliverer deliverer,
    StorageTelemetry telemetry,
    IOptions<StorageOptions> options,
    UploadBudgets budgets)
{
    public ResponseRecorder Recorder { get; } = recorder;

    public ResponseStorage Storage { get; } = storage;

    public UploadDeliverer Deliverer { get; } = deliverer;

    public StorageTelemetry Telemetry { get; } = telemetry;

    public IOptions<StorageOptions> Options { get; } = options;

    public UploadBudgets Budgets { get; } = budgets;
}
