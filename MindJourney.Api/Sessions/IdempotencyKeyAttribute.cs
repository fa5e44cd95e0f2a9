using System.ComponentModel.DataAnnotations;

namespace MindJourney.Api.Sessions;

/// <summary>The rule of the <c>Idempotency-Key</c> header: one value of <see cref="MinLength"/> to <see cref="MaxLength"/>
/// printable characters. A short key is refused: keys of different clicks must not meet, and the page sends UUIDs.
/// Several values arrive as one comma-joined line: which one is the key cannot be told, so neither is.</summary>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class IdempotencyKeyAttribute : ValidationAttribute
{
    public const int MinLength = 16;
    public const int MaxLength = 200;

    public override bool IsValid(object? value) => value is not string key
        || (key.Length is >= MinLength and <= MaxLength && !key.Any(char.IsControl) && !key.Contains(',', StringComparison.Ordinal));

    public override string FormatErrorMessage(string name) =>
        $"Send one {SessionsApi.IdempotencyKeyHeader} header of {MinLength} to {MaxLength} printable characters, without commas "
        + "(a new UUID per click is a good key).";
}
