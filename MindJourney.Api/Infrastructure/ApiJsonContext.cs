using System.Text.Json;
using System.Text.Json.Serialization;
using MindJourney.Api.Admin;
using MindJourney.Api.Experiments;
using MindJourney.Api.Export;
using MindJourney.Api.Responses;
using MindJourney.Api.Sessions;
using MindJourney.Api.Storage;
using MindJourney.Api.Withdrawal;

namespace MindJourney.Api.Infrastructure;

/// <summary>Source-generated JSON for the API's own types: no reflection on the hot path.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, MaxDepth = StoredInput.MaxHttpJsonDepth)]
[JsonSerializable(typeof(CreateSessionRequest))]
[JsonSerializable(typeof(UpdateSessionRequest))]
[JsonSerializable(typeof(SessionDetails))]
[JsonSerializable(typeof(StartedSession))]
[JsonSerializable(typeof(CreateResponseRequest))]
[JsonSerializable(typeof(ResponseDetails))]
[JsonSerializable(typeof(List<ResponseDetails>))]
[JsonSerializable(typeof(ExperimentSummary))]
[JsonSerializable(typeof(LevelDetails))]
[JsonSerializable(typeof(List<LevelDetails>))]
[JsonSerializable(typeof(RecoveryResult))]
[JsonSerializable(typeof(AuditReport))]
[JsonSerializable(typeof(NumberingHealthReport))]
[JsonSerializable(typeof(List<ParticipantRow>))]
[JsonSerializable(typeof(IReadOnlyList<AdminActionEntry>))]
[JsonSerializable(typeof(ExportDetails))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(StudyDetails))]
[JsonSerializable(typeof(List<StudyDetails>))]
[JsonSerializable(typeof(StudyChange))]
[JsonSerializable(typeof(List<EnrollmentBucket>))]
[JsonSerializable(typeof(WithdrawRequest))]
[JsonSerializable(typeof(WithdrawalResult))]
[JsonSerializable(typeof(WithdrawalLogEntry))]
[JsonSerializable(typeof(OrphanSweepResult))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
