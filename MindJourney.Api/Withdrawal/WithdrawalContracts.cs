using System.ComponentModel.DataAnnotations;
using MindJourney.Api.Infrastructure;

namespace MindJourney.Api.Withdrawal;

/// <summary>Body of <c>POST /api/admin/users/{userId}/withdraw</c>: why, if the researcher says (kept in the action
/// log, so no personal data belongs in it).</summary>
public sealed record WithdrawRequest(
    [property: StringLength(PersonWithdrawal.MaxReasonLength, ErrorMessage = "reason is longer than {1} characters."), StoredText]
    string? Reason);

/// <summary>What one withdrawal call erased: answers (rows) and stored files (objects named by those rows).</summary>
public sealed record ErasedData(int Answers, int Files);

/// <summary>The person after the call. <see cref="WithdrawnAt"/> is the first withdrawal's time, also on a repeat,
/// whose <see cref="Erased"/> counts what was left to erase (nothing, usually).</summary>
public sealed record WithdrawalResult(Guid UserId, int? VisitorNumber, DateTimeOffset WithdrawnAt, ErasedData Erased);

/// <summary>The action log's record of a withdrawal: ids and counts only, never the person's data.</summary>
public sealed record WithdrawalLogEntry(Guid UserId, int? VisitorNumber, string? Reason, int Answers, int Files);
