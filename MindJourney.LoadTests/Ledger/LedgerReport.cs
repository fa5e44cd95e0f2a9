using System.Globalization;

namespace MindJourney.LoadTests.Ledger;

/// <summary>What <c>verify-ledger</c> found: every acknowledged write looked for in the database (and each file's
/// bytes in storage), the numbers checked for duplicates and gaps, and the refusals and timings of the run.</summary>
public sealed record LedgerReport
{
    public int SessionsAcknowledged { get; init; }

    public int AnswersAcknowledged { get; init; }

    public int SessionsFound { get; init; }

    public int AnswersFound { get; init; }

    /// <summary>Acknowledged sessions and answers the database does not hold (first few ids in <see cref="Examples"/>).</summary>
    public int Lost { get; init; }

    /// <summary>Found sessions whose visitor or study participant number is not the one acknowledged.</summary>
    public int NumbersChanged { get; init; }

    /// <summary>Visitor numbers (per mode) held by more than one person in the database or acknowledged to more than one
    /// new person, plus study participant numbers held by more than one person in a study and mode.</summary>
    public int Duplicates { get; init; }

    /// <summary>The live sequence's last value (0 when never called) and the pilot sequence's.</summary>
    public long LiveSequence { get; init; }

    public long PilotSequence { get; init; }

    /// <summary>Live numbers the sequence gave out that nobody holds, and those gaps as runs ("5-6, 40-71").</summary>
    public long Burned { get; init; }

    public string BurnedRuns { get; init; } = "";

    /// <summary>Files whose bytes were read back (from storage, or from the outbox while still pending), and those that
    /// differ from what was sent; null when no storage was given to read from.</summary>
    public int? FilesChecked { get; init; }

    public int FilesPending { get; init; }

    public int? FilesDiffering { get; init; }

    /// <summary>Refused requests from the fault's start on (all of them without one), by status.</summary>
    public IReadOnlyDictionary<string, int> Refused { get; init; } = new Dictionary<string, int>();

    /// <summary>Refused requests before the fault began (there should be none).</summary>
    public int RefusedBefore { get; init; }

    /// <summary>Seconds from the fault's end to the first acknowledgement after it.</summary>
    public double? FirstSuccessSeconds { get; init; }

    /// <summary>The longest any request waited for its answer, acknowledged or refused.</summary>
    public double LongestRequestSeconds { get; init; }

    public IReadOnlyList<string> Examples { get; init; } = [];

    public int Acknowledged => SessionsAcknowledged + AnswersAcknowledged;

    public int Found => SessionsFound + AnswersFound;

    /// <summary>Nothing acknowledged lost or changed, no number twice, no file's bytes differing.</summary>
    public bool Passed => Lost == 0 && NumbersChanged == 0 && Duplicates == 0 && FilesDiffering is null or 0;

    /// <summary>The Markdown row <c>benchmarks/faults.sh</c> prints, one per scenario (<see cref="RowHeader"/>).</summary>
    public string Row(string label, double? drainSeconds)
    {
        var refused = Refused.Count == 0 ? "0" : string.Join(", ", Refused.OrderBy(r => r.Key, StringComparer.Ordinal)
            .Select(r => $"{r.Key}: {r.Value}"));
        return string.Create(CultureInfo.InvariantCulture,
            $"| {label} | {Acknowledged} | {Found} | {Lost} | {Duplicates} | {Burned}{(Burned > 0 ? $" ({BurnedRuns})" : "")} "
            + $"| {refused} | {Seconds(FirstSuccessSeconds)} | {Seconds(drainSeconds)} | {LongestRequestSeconds:0.0} "
            + $"| {(FilesDiffering is { } d ? $"{d} of {FilesChecked}" : "-")} |");
    }

    public const string RowHeader =
        "| scenario | acknowledged | found | lost | duplicates | burned (gaps) | refused from the fault on | first success s "
        + "| drain s | longest request s | differing uploads |\n|---|---|---|---|---|---|---|---|---|---|---|";

    private static string Seconds(double? s) => s is { } v ? v.ToString("0.0", CultureInfo.InvariantCulture) : "-";
}
