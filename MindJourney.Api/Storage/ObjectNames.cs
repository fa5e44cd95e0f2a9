using System.Globalization;
using System.Text;

namespace MindJourney.Api.Storage;

/// <summary>Storage object names and metadata of responses (Storage/README.md).</summary>
public static class ObjectNames
{
    public const string Prefix = "experiment-responses";
    public const string TextFileName = "text-response.txt";
    public const string TextContentType = "text/plain; charset=utf-8";

    /// <summary>Longest sanitised file name kept in an object name (GCS allows 1024 bytes for the whole name).</summary>
    public const int MaxFileNameLength = 100;

    /// <summary>Longest client file name kept in the <c>originalName</c> metadata.</summary>
    public const int MaxOriginalNameLength = 255;

    private const string FallbackFileName = "file";

    /// <summary><c>experiment-responses/{yyyy-MM-dd}/session-{sessionId}/{responseType}/{timestamp}_{name}</c>, in
    /// UTC, with the whole session id (the original cut it to 8 characters, which can collide).</summary>
    public static string For(Guid sessionId, string responseType, DateTimeOffset uploadedAt, string fileName) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{SessionFolder(sessionId, uploadedAt)}{responseType}/{uploadedAt.ToUnixTimeMilliseconds()}_{fileName}");

    /// <summary>The folder of a session's objects uploaded on <paramref name="day"/>'s UTC date (a withdrawal lists
    /// each day of a session's life).</summary>
    public static string SessionFolder(Guid sessionId, DateTimeOffset day) =>
        string.Create(CultureInfo.InvariantCulture, $"{DayFolder(day)}session-{sessionId:D}/");

    /// <summary>The folder of every object uploaded on <paramref name="day"/>'s UTC date (the orphan sweep lists it).</summary>
    public static string DayFolder(DateTimeOffset day) =>
        string.Create(CultureInfo.InvariantCulture, $"{Prefix}/{day.UtcDateTime:yyyy-MM-dd}/");

    /// <summary>The client's file name reduced to letters, digits, '.', '-' and '_': the last path segment only,
    /// control characters dropped, anything else replaced by '_', no leading dots (no "..", no hidden files), at
    /// most <see cref="MaxFileNameLength"/> characters with the extension kept. Never empty, never a path.</summary>
    public static string SanitiseFileName(string? clientName)
    {
        var name = clientName ?? "";
        var slash = name.LastIndexOfAny(['/', '\\']);
        if (slash >= 0)
        {
            name = name[(slash + 1)..];
        }

        var builder = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            if (char.IsControl(c))
            {
                continue;
            }

            var keep = char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_';
            var next = keep ? c : '_';
            if (next == '_' && builder.Length > 0 && builder[^1] == '_')
            {
                continue; // "my  (1).webm" → "my_1_.webm", not a row of underscores
            }

            builder.Append(next);
        }

        var sanitised = builder.ToString().TrimStart('.', '_', '-');
        if (sanitised.Length > MaxFileNameLength)
        {
            var dot = sanitised.LastIndexOf('.');
            var extension = dot > 0 && sanitised.Length - dot <= 16 ? sanitised[dot..] : "";
            sanitised = sanitised[..(MaxFileNameLength - extension.Length)] + extension;
        }

        return sanitised.Trim('.').Length == 0 ? FallbackFileName : sanitised;
    }

    /// <summary>What the <c>originalName</c> metadata keeps of the client's name: no control characters, bounded.</summary>
    public static string OriginalName(string? clientName)
    {
        var cleaned = new string((clientName ?? "").Where(c => !char.IsControl(c)).ToArray()).Trim();
        if (cleaned.Length <= MaxOriginalNameLength)
        {
            return cleaned;
        }

        // Never half an emoji: a lone surrogate is text PostgreSQL cannot store.
        var length = char.IsHighSurrogate(cleaned[MaxOriginalNameLength - 1]) ? MaxOriginalNameLength - 1 : MaxOriginalNameLength;
        return cleaned[..length];
    }
}
