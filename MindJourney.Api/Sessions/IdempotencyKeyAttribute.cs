using System.ComponentModel.DataAnnotations;

namespace MindJourney.Api.Sessions;

/// <summary>The rule of the <c>Idempotency-Key</c> header: one value of 1 to <see cref="MaxLength"/> printable
/// characters. Several values arrive as one comma-joined line: which one is the key cannot be told, so neither is.</summary>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class IdempotencyKeyAttribute : ValidationAttribute
{
    public const int MaxLength = 200;

    public override bool IsValid(object? value) => value is not string key
        || (key.Length is > 0 and <= MaxLength && !key.Any(char.IsControl) && !key.Contains(',', StringComparison.Ordinal));

    public override string FormatErrorMessage(string name) =>
        $"Send one {SessionsApi.IdempotencyKeyHeader} header of 1 to {MaxLength} printable characters, without commas.";
}
