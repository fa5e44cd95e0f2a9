using System.ComponentModel.DataAnnotations;
using System.Text.Json;

namespace MindJourney.Api.Infrastructure;

/// <summary>The rules request records declare that DataAnnotations has no attribute for (checked by
/// <see cref="RequestValidation"/>). Their messages name the field as the client writes it (camelCase JSON).</summary>
public static class RequestRules
{
    public static string Field(string name) => JsonNamingPolicy.CamelCase.ConvertName(name);
}

/// <summary>An id the request must carry: present, and not the all-zero uuid.</summary>
public sealed class RequiredIdAttribute : RequiredAttribute
{
    public override bool IsValid(object? value) => value is Guid id && id != Guid.Empty;

    public override string FormatErrorMessage(string name) => $"{RequestRules.Field(name)} is required.";
}

/// <summary>Text the request must carry: not blank, and at most <see cref="MaxLength"/> characters.</summary>
public sealed class RequiredTextAttribute(int maxLength) : RequiredAttribute
{
    public int MaxLength { get; } = maxLength;

    public override bool IsValid(object? value) => base.IsValid(value) && value is string text && text.Length <= MaxLength;

    public override string FormatErrorMessage(string name) => $"{RequestRules.Field(name)} is required, at most {MaxLength} characters.";
}

/// <summary>Text the API stores as the client sent it: <see cref="StoredInput.TextProblem"/>.</summary>
public sealed class StoredTextAttribute : ValidationAttribute
{
    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext) =>
        StoredInput.TextProblem(value as string, RequestRules.Field(validationContext.DisplayName)) is { } problem
            ? new ValidationResult(problem)
            : ValidationResult.Success;
}

/// <summary>A JSON value the API stores as the client sent it: <see cref="StoredInput.JsonProblem(JsonElement, string)"/>.</summary>
public sealed class StoredJsonAttribute : ValidationAttribute
{
    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext) =>
        value is JsonElement json && StoredInput.JsonProblem(json, RequestRules.Field(validationContext.DisplayName)) is { } problem
            ? new ValidationResult(problem)
            : ValidationResult.Success;
}

/// <summary>A field the client may not send: it names what the request cannot change. Absent is the only valid
/// value (an explicit null is an attempt too).</summary>
public sealed class UnchangeableAttribute : ValidationAttribute
{
    public override bool IsValid(object? value) => value is not JsonElement { ValueKind: not JsonValueKind.Undefined };

    public override string FormatErrorMessage(string name) => $"{RequestRules.Field(name)} cannot be changed.";
}
