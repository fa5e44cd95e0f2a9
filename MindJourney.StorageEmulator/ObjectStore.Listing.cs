using System.Text;

namespace MindJourney.StorageEmulator;

internal sealed record ListRequest(string? Prefix, string? Delimiter, int MaxResults, string? PageToken,
    string? StartOffset, string? EndOffset, bool IncludeTrailingDelimiter);

internal sealed record ObjectPage(IReadOnlyList<StoredObject> Items, IReadOnlyList<string> Prefixes, string? NextPageToken);

// Listing with prefixes, delimiters, offsets and page tokens, as the JSON API pages.
internal sealed partial class ObjectStore
{
    public ObjectPage List(string bucket, ListRequest request)
    {
        var prefix = request.Prefix ?? "";
        var delimiter = string.IsNullOrEmpty(request.Delimiter) ? null : request.Delimiter;
        var (tokenIsPrefix, tokenKey) = PageToken.Decode(request.PageToken);
        var max = Math.Clamp(request.MaxResults, 1, 1000);
        var items = new List<StoredObject>();
        var prefixes = new List<string>();
        string? next = null;
        var count = 0;
        string? lastEmitted = null;
        var lastWasPrefix = false;

        lock (_gate)
        {
            if (!_buckets.TryGetValue(bucket, out var state))
            {
                throw GcsException.NoSuchBucket(bucket);
            }

            foreach (var (name, obj) in state.Objects)
            {
                if (!name.StartsWith(prefix, StringComparison.Ordinal)
                    || (request.StartOffset is { } so && string.CompareOrdinal(name, so) < 0)
                    || (request.EndOffset is { } eo && string.CompareOrdinal(name, eo) >= 0))
                {
                    continue;
                }

                if (tokenKey is not null
                    && (string.CompareOrdinal(name, tokenKey) <= 0
                        || (tokenIsPrefix && name.StartsWith(tokenKey, StringComparison.Ordinal))))
                {
                    continue;
                }

                string? commonPrefix = null;
                if (delimiter is not null)
                {
                    var at = name.IndexOf(delimiter, prefix.Length, StringComparison.Ordinal);
                    if (at >= 0)
                    {
                        commonPrefix = name[..(at + delimiter.Length)];
                    }
                }

                if (commonPrefix is not null && lastWasPrefix && commonPrefix == lastEmitted)
                {
                    // Another object under a prefix already reported; only a trailing-delimiter object adds an item.
                    if (request.IncludeTrailingDelimiter && name == commonPrefix)
                    {
                        items.Add(obj);
                    }

                    continue;
                }

                if (count == max)
                {
                    next = PageToken.Encode(lastWasPrefix, lastEmitted!);
                    break;
                }

                count++;
                if (commonPrefix is not null)
                {
                    prefixes.Add(commonPrefix);
                    if (request.IncludeTrailingDelimiter && name == commonPrefix)
                    {
                        items.Add(obj);
                    }

                    lastEmitted = commonPrefix;
                    lastWasPrefix = true;
                }
                else
                {
                    items.Add(obj);
                    lastEmitted = name;
                    lastWasPrefix = false;
                }
            }
        }

        return new ObjectPage(items, prefixes, next);
    }
}

internal static class PageToken
{
    public static string Encode(bool isPrefix, string key) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes((isPrefix ? "p:" : "n:") + key));

    public static (bool IsPrefix, string? Key) Decode(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return (false, null);
        }

        try
        {
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(token));
            if (text.Length >= 2 && text[1] == ':' && text[0] is 'p' or 'n')
            {
                return (text[0] == 'p', text[2..]);
            }
        }
        catch (FormatException)
        {
        }

        throw GcsException.BadRequest("Invalid page token.");
    }
}
