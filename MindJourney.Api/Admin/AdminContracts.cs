namespace MindJourney.Api.Admin;

public sealed record VisitorNumberAssignment(Guid SessionId, Guid UserId, int VisitorNumber);

public sealed record RecoveryResult(
    int SessionsScanned,
    int NumbersAssigned,
    int UsersUpdated,
    int ResponsesUpdated,
    int ObjectsUpdated,
    IReadOnlyList<VisitorNumberAssignment> Assignments);

public sealed record DuplicateNumber(int VisitorNumber, long Users);

public sealed record NumberGap(long From, long To);

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
    long RejectedUploads);
