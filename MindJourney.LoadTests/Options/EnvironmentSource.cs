using System.Collections;
using System.Globalization;

namespace MindJourney.LoadTests.Options;

/// <summary>The original platform's variables: API_URL, CONCURRENT_USERS; and ADMIN_API_KEY.</summary>
public static class EnvironmentSource
{
    public const string ApiUrlVariable = "API_URL";
    public const string ConcurrentUsersVariable = "CONCURRENT_USERS";
    public const string AdminKeyVariable = "ADMIN_API_KEY";

    /// <summary>The process environment as a dictionary.</summary>
    public static IReadOnlyDictionary<string, string?> Current()
    {
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            result[(string)e.Key] = e.Value as string;
        }

        return result;
    }

    public static OptionLayer Read(IReadOnlyDictionary<string, string?> env, ICollection<string> errors)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(errors);
        var layer = OptionLayer.Empty;

        if (Get(env, ApiUrlVariable) is { } url)
        {
            if (ValueParsers.TryParseApiUrl(url, out var uri))
            {
                layer = layer with { ApiUrl = uri };
            }
            else
            {
                errors.Add($"{ApiUrlVariable}: '{url}' is not an absolute http(s) URL.");
            }
        }

        if (Get(env, ConcurrentUsersVariable) is { } users)
        {
            if (int.TryParse(users, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n))
            {
                layer = layer with { Users = n };
            }
            else
            {
                errors.Add($"{ConcurrentUsersVariable}: '{users}' is not a whole number.");
            }
        }

        if (Get(env, AdminKeyVariable) is { } key)
        {
            layer = layer with { AdminKey = key };
        }

        return layer;
    }

    private static string? Get(IReadOnlyDictionary<string, string?> env, string name) =>
        env.TryGetValue(name, out var v) && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;
}
