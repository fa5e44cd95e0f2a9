using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace MindJourney.Api.Experiments;

/// <summary>A study's slug: the name in its link (<c>/?study={slug}</c>), <c>[a-z0-9-]{3,64}</c>, unique.</summary>
public static partial class StudySlugs
{
    public const int MinLength = 3;
    public const int MaxLength = 64;
    public const string Rule = "a slug is 3 to 64 characters from a-z, 0-9 and '-'";

    [GeneratedRegex("^[a-z0-9-]{3,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    public static bool IsValid(string slug) => Pattern().IsMatch(slug);

    /// <summary>A slug from a title: letters without their accents, lower case, other runs as one '-'
    /// ("Memory & Mood" → "memory-mood"); padded when too short, cut when too long.</summary>
    public static string FromTitle(string title)
    {
        var slug = new StringBuilder(MaxLength);
        foreach (var c in title.Normalize(NormalizationForm.FormD))
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.NonSpacingMark)
            {
                continue;
            }

            var lower = char.ToLowerInvariant(c);
            if (lower is >= 'a' and <= 'z' or >= '0' and <= '9')
            {
                slug.Append(lower);
            }
            else if (slug.Length > 0 && slug[^1] != '-')
            {
                slug.Append('-');
            }

            if (slug.Length >= MaxLength - Suffix.Length)
            {
                break;
            }
        }

        var text = slug.ToString().Trim('-');
        return text.Length >= MinLength ? text : (text + "-study").TrimStart('-');
    }

    /// <summary>Room kept for <see cref="WithSuffix"/>.</summary>
    private const string Suffix = "-00000000";

    /// <summary>The slug made unique by a random suffix, when the plain one is taken.</summary>
    public static string WithSuffix(string slug) =>
        $"{slug}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4))}";
}
