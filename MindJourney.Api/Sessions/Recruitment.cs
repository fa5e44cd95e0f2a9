using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using MindJourney.Api.Data;
using MindJourney.Api.Infrastructure;

namespace MindJourney.Api.Sessions;

/// <summary>The <c>recruitment</c> of <c>POST /api/session</c>: the ids a panel put on the study link. Within a study,
/// (source, participantId) is the person on any device. Only Prolific and MTurk have a study and a session id of their
/// own (STUDY_ID/SESSION_ID, hitId/assignmentId). Personal data: never logged, traced or tagged.</summary>
public sealed record RecruitmentInput(string? Source, string? ParticipantId, string? StudyId, string? SessionId)
{
    public const int MaxIdLength = 128;

    private const string Field = "recruitment";

    /// <summary>Every broken rule, keyed by the field's path (<c>recruitment.participantId</c>); empty when kept.</summary>
    public Dictionary<string, string[]> Errors()
    {
        var errors = new Dictionary<string, string[]>();
        if (Source is null || !RecruitmentSources.All.Contains(Source))
        {
            errors[$"{Field}.source"] = [$"source must be one of {string.Join(", ", RecruitmentSources.All)}."];
        }

        Check(errors, "participantId", ParticipantId, required: true);
        var panelIds = Source is RecruitmentSources.Prolific or RecruitmentSources.MTurk;
        foreach (var (name, value) in new[] { ("studyId", StudyId), ("sessionId", SessionId) })
        {
            if (value is not null && !panelIds && Source is not null && RecruitmentSources.All.Contains(Source))
            {
                errors[$"{Field}.{name}"] = [$"{name} is only for prolific and mturk: {Source} has none."];
            }
            else
            {
                Check(errors, name, value, required: false);
            }
        }

        return errors;
    }

    private static void Check(Dictionary<string, string[]> errors, string name, string? value, bool required)
    {
        var path = $"{Field}.{name}";
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required || value is not null)
            {
                errors[path] = [$"{name} is required, at most {MaxIdLength} characters."];
            }
        }
        else if (value.Length > MaxIdLength)
        {
            errors[path] = [$"{name} is longer than {MaxIdLength} characters."];
        }
        else if (StoredInput.TextProblem(value, name) is { } problem)
        {
            errors[path] = [problem];
        }
    }
}

/// <summary>A checked recruitment as the numbering statement takes it: <see cref="ParticipantKey"/> is the keyed hash
/// that finds the person (<see cref="RecruitmentKeyHasher"/>); the ids are stored as sent.</summary>
internal sealed record Recruited(string Source, byte[] ParticipantKey, string ParticipantId, string? StudyId, string? SessionId);

/// <summary>
/// The key a recruited person is found by (<c>recruitments.participant_key</c>): HMAC-SHA256 of the panel's participant
/// id under a key derived from the server's signing key (<c>MindJourney:Idempotency:SigningKey</c>) for this purpose
/// alone, so it never equals an Idempotency-Key's hash. It outlives the id itself (erased on withdrawal): the same
/// ids still find the withdrawn person, and a database without the signing key cannot test guesses of an id.
/// </summary>
public sealed class RecruitmentKeyHasher(IOptions<IdempotencyOptions> options)
{
    private const string Purpose = "MindJourney recruitment participant key v1";

    private readonly byte[] _key = HMACSHA256.HashData(Encoding.UTF8.GetBytes(options.Value.SigningKey ?? ""),
        Encoding.UTF8.GetBytes(Purpose));

    public byte[] Hash(string participantId) => HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(participantId));
}

/// <summary>
/// A study's completion link (<c>completionUrl</c>), filled for one session: the placeholders take the visitor number
/// and the panel's ids, URL-encoded, empty when missing. Only the stored template is ever used, so the page redirects
/// only where the researcher said.
/// </summary>
public static class CompletionLinks
{
    public const string VisitorNumber = "{visitorNumber}", ParticipantId = "{participantId}", PanelStudyId = "{panelStudyId}",
        PanelSessionId = "{panelSessionId}";

    public static readonly string[] Placeholders = [VisitorNumber, ParticipantId, PanelStudyId, PanelSessionId];

    /// <summary>Whether the template needs the person's panel ids (a read of their recruitment).</summary>
    public static bool NeedsPanelIds(string template) =>
        template.Contains(ParticipantId, StringComparison.Ordinal) || template.Contains(PanelStudyId, StringComparison.Ordinal)
        || template.Contains(PanelSessionId, StringComparison.Ordinal);

    public static string Fill(string template, int? visitorNumber, string? participantId, string? panelStudyId, string? panelSessionId) =>
        new StringBuilder(template)
            .Replace(VisitorNumber, visitorNumber?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "")
            .Replace(ParticipantId, Uri.EscapeDataString(participantId ?? ""))
            .Replace(PanelStudyId, Uri.EscapeDataString(panelStudyId ?? ""))
            .Replace(PanelSessionId, Uri.EscapeDataString(panelSessionId ?? ""))
            .ToString();

    /// <summary>Null when <paramref name="template"/> is a completion link the page may go to, else why not: an
    /// absolute http(s) URL whose only braces are the four placeholders, none before the path (a filled id must never
    /// choose the host).</summary>
    public static string? TemplateProblem(string template)
    {
        var bare = template;
        foreach (var placeholder in Placeholders)
        {
            bare = bare.Replace(placeholder, "", StringComparison.Ordinal);
        }

        if (bare.Contains('{') || bare.Contains('}'))
        {
            return "completionUrl may hold only the placeholders " + string.Join(", ", Placeholders) + ".";
        }

        if (!Uri.TryCreate(bare, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)
            || uri.Host.Length == 0)
        {
            return "completionUrl must be null or an absolute http or https URL.";
        }

        var first = template.IndexOf('{');
        var authorityEnd = template.IndexOfAny(['/', '?', '#'], uri.Scheme.Length + 3);
        return first >= 0 && (authorityEnd < 0 || first < authorityEnd)
            ? "completionUrl's placeholders go in its path or query, after the host."
            : null;
    }
}
