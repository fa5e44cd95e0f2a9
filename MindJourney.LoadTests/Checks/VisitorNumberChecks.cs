using System.Globalization;
using System.Text;

namespace MindJourney.LoadTests.Checks;

/// <summary>The visitor-number checks, as pure functions over what the run saw.</summary>
public static class VisitorNumberChecks
{
    private const int MaxListed = 10;

    /// <summary>
    /// Check 1: every number handed out in the run is unique. Null numbers (fallback) are counted apart and fail the
    /// check unless <paramref name="allowFallback"/>.
    /// </summary>
    public static CheckResult Uniqueness(IEnumerable<int?> sessionNumbers, bool allowFallback)
    {
        ArgumentNullException.ThrowIfNull(sessionNumbers);
        long sessions = 0, fallback = 0;
        var counts = new Dictionary<int, int>();
        foreach (var n in sessionNumbers)
        {
            sessions++;
            if (n is null)
            {
                fallback++;
                continue;
            }

            counts[n.Value] = counts.GetValueOrDefault(n.Value) + 1;
        }

        const string name = CheckNames.VisitorNumbersUnique;
        if (sessions == 0)
        {
            return CheckResult.Fail(name, "no session was created in the run, so nothing was checked");
        }

        var duplicates = counts.Where(kv => kv.Value > 1).OrderBy(kv => kv.Key).ToList();
        var detail = new StringBuilder();
        detail.Append(CultureInfo.InvariantCulture, $"{sessions} sessions, {counts.Count} distinct numbers, {fallback} fallback (null)");
        if (fallback > 0)
        {
            detail.Append(allowFallback ? " (allowed by --allow-fallback)" : " (fails: pass --allow-fallback to accept)");
        }

        if (duplicates.Count > 0)
        {
            detail.Append(CultureInfo.InvariantCulture, $"; {duplicates.Count} numbers handed out more than once: ");
            detail.Append(string.Join(", ", duplicates
                .Take(MaxListed)
                .Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key}×{kv.Value}"))));
            if (duplicates.Count > MaxListed)
            {
                detail.Append(", …");
            }
        }

        var ok = duplicates.Count == 0 && (fallback == 0 || allowFallback);
        return ok ? CheckResult.Pass(name, detail.ToString()) : CheckResult.Fail(name, detail.ToString());
    }

    /// <summary>
    /// Check 2 without an admin key (the weaker form): the run's numbers are contiguous among themselves,
    /// count == max - min + 1.
    /// </summary>
    public static CheckResult ContiguousAmongThemselves(IEnumerable<int> numbers)
    {
        ArgumentNullException.ThrowIfNull(numbers);
        const string name = CheckNames.VisitorNumbersContiguous;
        const string weaker = "weaker check (no admin key): contiguous among the run's own numbers only, not against the sequence";
        var all = numbers.ToList();
        if (all.Count == 0)
        {
            return CheckResult.Fail(name, "no numbered session in the run; " + weaker);
        }

        var distinct = all.Distinct().Order().ToList();
        long min = distinct[0], max = distinct[^1];
        var expected = max - min + 1;
        var missing = Missing(distinct, min, max);
        var detail = new StringBuilder();
        detail.Append(CultureInfo.InvariantCulture, $"{all.Count} numbers in {min}..{max} (span {expected})");
        if (all.Count != distinct.Count)
        {
            detail.Append(CultureInfo.InvariantCulture, $"; {all.Count - distinct.Count} repeated");
        }

        if (missing.Count > 0)
        {
            detail.Append(CultureInfo.InvariantCulture, $"; missing {CountOf(missing)}: {FormatRanges(missing)}");
        }

        detail.Append("; ").Append(weaker);
        return all.Count == expected && missing.Count == 0
            ? CheckResult.Pass(name, detail.ToString())
            : CheckResult.Fail(name, detail.ToString());
    }

    /// <summary>
    /// Check 2 with an admin key: the run's numbers are exactly sequenceLastValue_before+1 .. sequenceLastValue_after
    /// (valid when the harness is the only client).
    /// </summary>
    public static CheckResult ContiguousWithSequence(IEnumerable<int> numbers, long lastValueBefore, long lastValueAfter)
    {
        ArgumentNullException.ThrowIfNull(numbers);
        const string name = CheckNames.VisitorNumbersContiguous;
        var all = numbers.ToList();
        var distinct = all.Distinct().Order().Select(n => (long)n).ToList();
        long from = lastValueBefore + 1, to = lastValueAfter;
        var detail = new StringBuilder();
        detail.Append(
            CultureInfo.InvariantCulture,
            $"expected {from}..{to} ({Math.Max(0, to - from + 1)} numbers: sequence last value {lastValueBefore} before, "
            + $"{lastValueAfter} after), run got {all.Count}");

        var ok = true;
        if (to < from)
        {
            ok = false;
            detail.Append("; the sequence did not advance");
        }

        if (all.Count != distinct.Count)
        {
            ok = false;
            detail.Append(CultureInfo.InvariantCulture, $"; {all.Count - distinct.Count} repeated");
        }

        var outside = distinct.Where(n => n < from || n > to).ToList();
        if (outside.Count > 0)
        {
            ok = false;
            detail.Append(CultureInfo.InvariantCulture, $"; outside the range: {FormatRanges(outside)}");
        }

        if (to >= from)
        {
            var inside = distinct.Where(n => n >= from && n <= to).ToList();
            var missing = Missing(inside, from, to);
            if (missing.Count > 0)
            {
                ok = false;
                detail.Append(
                    CultureInfo.InvariantCulture,
                    $"; taken from the sequence but not handed to the harness: {CountOf(missing)} ({FormatRanges(missing)})");
            }
        }

        if (all.Count == 0)
        {
            ok = false;
        }

        detail.Append("; assumes the harness was the API's only client during the run");
        return ok ? CheckResult.Pass(name, detail.ToString()) : CheckResult.Fail(name, detail.ToString());
    }

    /// <summary>Check 3: each response's visitorNumber equals its session's.</summary>
    public static CheckResult ResponsesCarrySessionNumber(long compared, long mismatched, IReadOnlyCollection<string> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        const string name = CheckNames.ResponsesCarrySessionNumber;
        if (compared == 0)
        {
            return CheckResult.Fail(name, "no response was created in the run, so nothing was compared");
        }

        var detail = string.Create(
            CultureInfo.InvariantCulture,
            $"{compared} responses compared, {mismatched} carried another number than their session");
        if (examples.Count > 0)
        {
            detail += "; e.g. " + string.Join("; ", examples.Take(5));
        }

        return mismatched == 0 ? CheckResult.Pass(name, detail) : CheckResult.Fail(name, detail);
    }

    /// <summary>Check 4: the audit after the run shows no duplicates and no mismatched sessions or responses.</summary>
    public static CheckResult AuditClean(AuditSnapshot after)
    {
        ArgumentNullException.ThrowIfNull(after);
        const string name = CheckNames.AuditClean;
        var detail = string.Create(
            CultureInfo.InvariantCulture,
            $"duplicates {after.Duplicates.Count}, mismatchedSessions {after.MismatchedSessions}, "
            + $"mismatchedResponses {after.MismatchedResponses}; (info) gaps {after.Gaps.Count}, "
            + $"unnumberedSessions {after.UnnumberedSessions}, pendingUploads {after.PendingUploads}, users {after.Users}");
        if (after.Duplicates.Count > 0)
        {
            detail += "; duplicates: " + string.Join(", ", after.Duplicates.Take(MaxListed));
        }

        var ok = after.Duplicates.Count == 0 && after.MismatchedSessions == 0 && after.MismatchedResponses == 0;
        return ok ? CheckResult.Pass(name, detail) : CheckResult.Fail(name, detail);
    }

    /// <summary>Sorted distinct numbers as compact ranges: <c>3-7, 9, 12-13</c>.</summary>
    public static string FormatRanges(IReadOnlyList<long> sortedDistinct, int maxRanges = MaxListed)
    {
        ArgumentNullException.ThrowIfNull(sortedDistinct);
        var ranges = new List<string>();
        var i = 0;
        while (i < sortedDistinct.Count)
        {
            var start = sortedDistinct[i];
            var end = start;
            while (i + 1 < sortedDistinct.Count && sortedDistinct[i + 1] == end + 1)
            {
                end = sortedDistinct[++i];
            }

            i++;
            if (ranges.Count == maxRanges)
            {
                ranges.Add("…");
                break;
            }

            ranges.Add(start == end
                ? start.ToString(CultureInfo.InvariantCulture)
                : string.Create(CultureInfo.InvariantCulture, $"{start}-{end}"));
        }

        return string.Join(", ", ranges);
    }

    private static List<long> Missing(IReadOnlyList<int> sortedDistinct, long from, long to) =>
        Missing(sortedDistinct.Select(n => (long)n).ToList(), from, to);

    /// <summary>Numbers in from..to absent from the list; a huge hole is kept as its two ends plus a marker count.</summary>
    private static List<long> Missing(IReadOnlyList<long> sortedDistinct, long from, long to)
    {
        var missing = new List<long>();
        var next = from;
        foreach (var n in sortedDistinct.Append(to + 1))
        {
            if (n < next)
            {
                continue;
            }

            for (var m = next; m < n && m <= to; m++)
            {
                missing.Add(m);
                if (missing.Count > 100_000)
                {
                    return missing;
                }
            }

            next = n + 1;
        }

        return missing;
    }

    private static string CountOf(List<long> missing) =>
        missing.Count > 100_000 ? "more than 100000" : missing.Count.ToString(CultureInfo.InvariantCulture);
}
