using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace MindJourney.Api.Infrastructure;

/// <summary>
/// THE rules for client text and JSON the API stores, checked before anything reaches the database, so that what
/// PostgreSQL would refuse (or the API could not write back) is a 400 and never a 500 or a numbering failure:
/// text is valid UTF-16 without NUL (PostgreSQL text takes neither NUL nor lone surrogates); JSON nests at most
/// <see cref="MaxJsonDepth"/> deep, its strings and property names are such text, and its numbers are what a
/// JavaScript client can send: finite doubles, written briefly.
/// </summary>
public static class StoredInput
{
    /// <summary>Deepest nesting of a stored JSON value (sessionData, responseData). The API's own JSON around it
    /// (a request body; a list of responses and the object holding it) adds <see cref="EnvelopeDepth"/>.</summary>
    public const int MaxJsonDepth = 32;

    public const int EnvelopeDepth = 2;

    /// <summary>The depth the API's JSON reader and writer allow: a stored value in its envelope.</summary>
    public const int MaxHttpJsonDepth = MaxJsonDepth + EnvelopeDepth;

    /// <summary>A JavaScript client writes at most 24 characters per number ("-2.2250738585072014e-308"); a
    /// longer literal is no double, and PostgreSQL's numeric refuses some (20,000 decimals).</summary>
    public const int MaxNumberLength = 32;

    /// <summary>Three exponent digits cover every double (1e308, 5e-324).</summary>
    private const int MaxExponentDigits = 3;

    /// <summary>Null when <paramref name="text"/> can be stored, else why not (a problem detail naming
    /// <paramref name="field"/>).</summary>
    public static string? TextProblem(string? text, string field)
    {
        if (text is null)
        {
            return null;
        }

        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0')
            {
                return $"{field} must not contain the NUL character (U+0000).";
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }

            if (char.IsSurrogate(c))
            {
                return $"{field} is not valid Unicode text (a lone surrogate).";
            }
        }

        return null;
    }

    /// <summary>Null when the JSON value can be stored and written back, else why not.</summary>
    public static string? JsonProblem(JsonElement value, string field) =>
        JsonProblem(JsonMarshal.GetRawUtf8Value(value), field, out _);

    /// <summary>Null when <paramref name="utf8Json"/> is JSON that can be stored, else why not;
    /// <paramref name="isJson"/> tells text that is no JSON at all (then the result is null) from JSON that
    /// breaks a rule. Reads iteratively, so no depth of nesting costs more than its length.</summary>
    public static string? JsonProblem(ReadOnlySpan<byte> utf8Json, string field, out bool isJson)
    {
        // The reader's own limit is only a guard: the rule is checked below, so that JSON nested deeper than the
        // rule is still recognised as JSON (and refused), not taken for plain text.
        var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { MaxDepth = int.MaxValue });
        string? problem = null;
        try
        {
            while (reader.Read())
            {
                problem ??= reader.TokenType switch
                {
                    JsonTokenType.StartObject or JsonTokenType.StartArray when reader.CurrentDepth >= MaxJsonDepth =>
                        $"{field} nests deeper than {MaxJsonDepth} levels.",
                    JsonTokenType.String or JsonTokenType.PropertyName => StringProblem(ref reader, field),
                    JsonTokenType.Number => NumberProblem(reader.ValueSpan, field),
                    _ => null,
                };
            }
        }
        catch (JsonException)
        {
            isJson = false;
            return null;
        }

        isJson = true;
        return problem;
    }

    private static string? StringProblem(ref Utf8JsonReader reader, string field)
    {
        string text;
        try
        {
            text = reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // Invalid UTF-8, or an escaped lone surrogate such as "\ud800".
            return $"{field} holds a string that is not valid Unicode text.";
        }

        return TextProblem(text, field) is null ? null : $"{field} holds a string with NUL (U+0000) or a lone surrogate.";
    }

    private static string? NumberProblem(ReadOnlySpan<byte> literal, string field)
    {
        var exponent = literal.IndexOfAny((byte)'e', (byte)'E');
        var mantissa = exponent < 0 ? literal : literal[..exponent];
        var exponentDigits = exponent < 0 ? 0 : literal[(exponent + 1)..].TrimStart("+-"u8).Length;
        var fits = literal.Length <= MaxNumberLength
            && exponentDigits <= MaxExponentDigits
            && double.TryParse(literal, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            && double.IsFinite(value)
            // A non-zero literal that reads as zero lies below the smallest double (1e-400).
            && (value != 0 || !mantissa.ContainsAnyInRange((byte)'1', (byte)'9'));

        return fits ? null : $"{field} holds a number that is not a finite double (at most {MaxNumberLength} characters).";
    }
}
