using System.Text.Json.Serialization;

namespace MindJourney.LoadTests.Checks;

[JsonConverter(typeof(JsonStringEnumConverter<CheckOutcome>))]
public enum CheckOutcome
{
    Passed,
    Failed,

    /// <summary>The check could not run (e.g. no admin key); never counted as passed.</summary>
    Skipped,
}

public sealed record CheckResult(string Name, CheckOutcome Outcome, string Detail)
{
    public static CheckResult Pass(string name, string detail) => new(name, CheckOutcome.Passed, detail);

    public static CheckResult Fail(string name, string detail) => new(name, CheckOutcome.Failed, detail);

    public static CheckResult Skip(string name, string reason) => new(name, CheckOutcome.Skipped, reason);
}

/// <summary>Names of the domain checks, as they appear in every report.</summary>
public static class CheckNames
{
    public const string VisitorNumbersUnique = "visitor_numbers_unique";
    public const string VisitorNumbersContiguous = "visitor_numbers_contiguous";
    public const string ResponsesCarrySessionNumber = "responses_carry_session_number";
    public const string AuditClean = "audit_clean";
    public const string UploadsStored = "uploads_stored";
    public const string UploadsDownloadMatch = "uploads_download_match";
    public const string AnswersExactlyOnce = "answers_exactly_once";
    public const string StudyNumbersContiguous = "study_numbers_contiguous";
    public const string StudyFullExactly = "study_full_exactly";
}
