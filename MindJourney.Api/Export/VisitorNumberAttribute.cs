using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace MindJourney.Api.Export;

/// <summary>A visitor number in a query string: a whole number from 1, digits only. Empty means none.</summary>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class VisitorNumberAttribute : ValidationAttribute
{
    public override bool IsValid(object? value) => value is not string { Length: > 0 } text || Parse(text) is not null;

    public override string FormatErrorMessage(string name) => $"{name} must be a visitor number (a whole number from 1).";

    /// <summary>The number, or null when the text is empty or breaks the rule.</summary>
    public static int? Parse(string? text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number >= 1 ? number : null;
}
