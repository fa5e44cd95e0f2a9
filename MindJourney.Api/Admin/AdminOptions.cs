namespace MindJourney.Api.Admin;

/// <summary>Settings under <c>Admin</c>. The AppHost passes the Aspire secret parameter <c>admin-api-key</c> as
/// <c>Admin__ApiKey</c>.</summary>
public sealed class AdminOptions
{
    public const string SectionName = "Admin";

    /// <summary>Shorter keys can be guessed: the API refuses to start with one (none at all means no admin).</summary>
    public const int MinKeyLength = 32;

    public const string KeyTooShort = "Admin:ApiKey must be at least 32 characters long (or unset, which turns the admin routes off).";

    public string? ApiKey { get; set; }

    public static bool IsValid(AdminOptions options) => string.IsNullOrEmpty(options.ApiKey) || options.ApiKey.Length >= MinKeyLength;
}
