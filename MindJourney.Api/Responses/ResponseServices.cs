using Microsoft.Extensions.Options;
using MindJourney.Api.Storage;
using MindJourney.Api.Telemetry;

namespace MindJourney.Api.Responses;

/// <summary>What recording an answer needs, bound as one <c>[AsParameters]</c> argument.</summary>
public sealed class ResponseServices(
    ResponseRecorder recorder,
    ResponseStorage storage,
    StorageDeliverer deliverer,
    StorageTelemetry telemetry,
    IOptions<StorageOptions> options)
{
    public ResponseRecorder Recorder { get; } = recorder;

    public ResponseStorage Storage { get; } = storage;

    public StorageDeliverer Deliverer { get; } = deliverer;

    public StorageTelemetry Telemetry { get; } = telemetry;

    public IOptions<StorageOptions> Options { get; } = options;
}
