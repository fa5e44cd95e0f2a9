using Microsoft.Net.Http.Headers;

namespace MindJourney.Api.Responses;

/// <summary>Which files each response type takes, by the part's declared content type.</summary>
internal static class MediaTypes
{
    /// <summary>"audio/*", "video/*", "image/*", or null when the type takes no file.</summary>
    public static string? AllowedFor(string responseType) => responseType switch
    {
        ResponseTypes.Voice => "audio/*",
        ResponseTypes.Video => "video/*",
        ResponseTypes.Photo => "image/*",
        _ => null,
    };

    /// <summary>A concrete type (no wildcard) within <paramref name="allowed"/>, parameters ignored.</summary>
    public static bool Matches(string contentType, string allowed)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var parsed) || parsed.MatchesAllTypes || parsed.MatchesAllSubTypes)
        {
            return false;
        }

        // SVG is an image that can run script when served from our origin.
        return parsed.IsSubsetOf(MediaTypeHeaderValue.Parse(allowed)) && Bare(contentType) != "image/svg+xml";
    }

    /// <summary>The part's content type as stored and served back: as sent when it is short printable ASCII,
    /// else its bare media type, else nothing (which no response type accepts).</summary>
    public static string Normalise(string? contentType)
    {
        var value = (contentType ?? "").Trim();
        if (value.Length <= 200 && value.All(c => c is >= ' ' and <= '~'))
        {
            return value;
        }

        var bare = Bare(value);
        return bare.Length <= 100 ? bare : "";
    }

    /// <summary>"video/webm" of "Video/WebM; codecs=vp8,opus"; empty when it is not a media type.</summary>
    public static string Bare(string contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var parsed) && parsed.MediaType.HasValue
            ? parsed.MediaType.Value!.ToLowerInvariant()
            : "";

    public static string Describe(string contentType) =>
        contentType.Length == 0 ? "(none)" : Bare(contentType) is { Length: > 0 and <= 100 } bare ? bare : "(unreadable)";
}
