namespace MindJourney.Api.Admin;

/// <summary>A session the recovery numbered: its number (a pilot number when <paramref name="Mode"/> is pilot) and
/// the condition that number gave it.</summary>
public sealed record VisitorNumberAssignment(Guid SessionId, Guid UserId, int VisitorNumber, string Mode, string? Condition);

public sealed record RecoveryResult(
    int SessionsScanned,
    int NumbersAssigned,
    int ResponsesUpdated,
    int ObjectsUpdated,
    IReadOnlyList<VisitorNumberAssignment> Assignments);

public sealed record DuplicateNumber(int VisitorNumber, long Users);

public sealed record NumberGap(long From, long To);

/// <summary>Live sessions of one experiment in one condition, counted from the sessions themselves.</summary>
public sealed record ConditionBalance(Guid ExperimentId, string Condition, long Started, long Completed);

public sealed record AuditReport(
    long SequenceLastValue,
    long Users,
    long NumberedUsers,
    long UnnumberedSessions,
    IReadOnlyList<DuplicateNumber> Duplicates,
    IReadOnlyList<NumberGap> Gaps,
    bool GapsTruncated,
    long MismatchedSessions,
    long MismatchedResponses,
    long PendingUploads,
    long RejectedUploads,
    IReadOnlyList<ConditionBalance> Conditions,
    long Withdrawn);
