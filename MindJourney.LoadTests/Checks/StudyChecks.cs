using System.Globalization;
using System.Text;
using System.Text.Json;

namespace MindJourney.LoadTests.Checks;

/// <summary>A study as <c>GET /api/admin/experiments/{id}</c> answers it, the fields the checks need: its cap
/// (<c>maxParticipants</c>, null = none) and the live people it has numbered (<c>participants.started</c>, which is its
/// highest study participant number: they are gap-free).</summary>
public sealed record StudySnapshot(string Slug, int? MaxParticipants, long Started)
{
    public static StudySnapshot Parse(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        using var doc = JsonDocument.ParseValue(ref reader);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("participants", out var people)
            || !people.TryGetProperty("started", out var started) || !root.TryGetProperty("maxParticipants", out var cap))
        {
            throw new JsonException("The study has no maxParticipants or participants.started.");
        }

        return new StudySnapshot(
            root.TryGetProperty("slug", out var slug) ? slug.GetString() ?? "" : "",
            cap.ValueKind == JsonValueKind.Null ? null : cap.GetInt32(),
            started.GetInt64());
    }
}

/// <summary>The checks of a run in one study (<c>--study</c>), as pure functions over what the run saw.</summary>
public static class StudyChecks
{
    /// <summary>
    /// The people the run numbered are contiguous in study participant number: exactly
    /// started_before+1 .. started_after with the study read before and after (an admin key), else among themselves.
    /// </summary>
    public static CheckResult Contiguous(IReadOnlyCollection<int?> studyNumbers, StudySnapshot? before, StudySnapshot? after)
    {
        ArgumentNullException.ThrowIfNull(studyNumbers);
        const string name = CheckNames.StudyNumbersContiguous;
        var numbers = studyNumbers.OfType<int>().Select(n => (long)n).ToList();
        var distinct = numbers.Distinct().Order().ToList();
        var missingNumber = studyNumbers.Count - numbers.Count;
        if (before is null || after is null)
        {
            if (distinct.Count == 0)
            {
                return CheckResult.Skip(name, "no study participant number was handed out in the run");
            }

            var span = distinct[^1] - distinct[0] + 1;
            var detail = F($"{numbers.Count} study participant numbers in {distinct[0]}..{distinct[^1]} (span {span})");
            var ok = numbers.Count == span && distinct.Count == numbers.Count && missingNumber == 0;
            detail += Problems(numbers.Count - distinct.Count, missingNumber)
                + "; weaker check (no admin key): contiguous among the run's own numbers only, not against the study";
            return ok ? CheckResult.Pass(name, detail) : CheckResult.Fail(name, detail);
        }

        long from = before.Started + 1, to = after.Started;
        var text = new StringBuilder(F(
            $"expected {from}..{to} ({Math.Max(0, to - from + 1)} people: {before.Started} started before, {after.Started} after)"))
            .Append(CultureInfo.InvariantCulture, $", run got {numbers.Count}");
        var outside = distinct.Where(n => n < from || n > to).ToList();
        var missing = to - from + 1 - distinct.Count(n => n >= from && n <= to);
        var passed = outside.Count == 0 && missing == 0 && distinct.Count == numbers.Count && missingNumber == 0;
        text.Append(Problems(numbers.Count - distinct.Count, missingNumber));
        if (outside.Count > 0)
        {
            text.Append("; outside the range: ").Append(VisitorNumberChecks.FormatRanges(outside));
        }

        if (missing > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"; {missing} numbered in the study but not handed to the harness");
        }

        text.Append("; assumes the harness was the study's only client during the run");
        return passed ? CheckResult.Pass(name, text.ToString()) : CheckResult.Fail(name, text.ToString());
    }

    /// <summary>
    /// With <c>--expect-full</c>: of the people who tried (every Play answered: numbered or refused as full), exactly
    /// min(cap - already started, tried) were numbered and the rest refused; the study's own count moved by as many.
    /// </summary>
    public static CheckResult FullExactly(long numbered, long refused, StudySnapshot? before, StudySnapshot? after)
    {
        const string name = CheckNames.StudyFullExactly;
        if (before is null || after is null)
        {
            return CheckResult.Skip(name, "needs --admin-key (or ADMIN_API_KEY) to read the study's cap and its people");
        }

        var tried = numbered + refused;
        var room = before.MaxParticipants is { } cap ? Math.Max(0, cap - before.Started) : tried;
        var expected = Math.Min(room, tried);
        var capText = before.MaxParticipants is { } c ? F($"cap {c}") : "no cap";
        var detail = F($"{capText}, {before.Started} already started: {tried} tried, {numbered} numbered, {refused} refused as full")
            + F($"; expected {expected} numbered and {tried - expected} refused; the study counts {after.Started - before.Started} new");
        var ok = numbered == expected && refused == tried - expected && after.Started - before.Started == numbered;
        return ok ? CheckResult.Pass(name, detail) : CheckResult.Fail(name, detail);
    }

    private static string Problems(int repeated, int withoutNumber) =>
        (repeated > 0 ? F($"; {repeated} repeated") : "") + (withoutNumber > 0 ? F($"; {withoutNumber} sessions without one") : "");

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
