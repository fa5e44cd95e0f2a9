using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using MindJourney.Api.Sessions;

namespace MindJourney.Testing;

/// <summary>Reads the API's answers as its own contract records (MindJourney.Api's <c>…Details</c>, <c>StartedSession</c>,
/// <c>AuditReport</c>…), with its JSON options (web defaults: camelCase), so an assert names a field of the contract
/// rather than a string key. A field the API always writes must be there: reading a contract whose field is missing
/// fails, as <c>GetProperty</c> would; only a field the API leaves out when null (<c>[JsonIgnore]</c>) may be absent.
/// </summary>
public static class ApiContracts
{
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web)
    {
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { EveryWrittenFieldRequired, ReadableStartedSession } },
    };

    public static async Task<T> ReadAsAsync<T>(this HttpContent content, CancellationToken cancellationToken = default) =>
        await content.ReadFromJsonAsync<T>(Json, cancellationToken) ?? throw new InvalidOperationException($"No {typeof(T).Name}.");

    public static async Task<T> GetAsAsync<T>(this HttpClient client, string url, CancellationToken cancellationToken = default) =>
        await client.GetFromJsonAsync<T>(url, Json, cancellationToken) ?? throw new InvalidOperationException($"No {typeof(T).Name}.");

    public static T As<T>(this JsonElement element) =>
        element.Deserialize<T>(Json) ?? throw new InvalidOperationException($"No {typeof(T).Name}.");

    private static void EveryWrittenFieldRequired(JsonTypeInfo type)
    {
        if (type.Kind != JsonTypeInfoKind.Object || type.Type.Assembly != typeof(StartedSession).Assembly)
        {
            return;
        }

        foreach (var property in type.Properties.Where(p => p.AttributeProvider?.IsDefined(typeof(JsonIgnoreAttribute), true) != true))
        {
            property.IsRequired = true;
        }
    }

    /// <summary>The API only writes <see cref="StartedSession"/> (it has no public constructor, and its secret no public
    /// setter); tests read it back as written.</summary>
    private static void ReadableStartedSession(JsonTypeInfo type)
    {
        if (type.Type != typeof(StartedSession))
        {
            return;
        }

        type.CreateObject = () => System.Runtime.CompilerServices.RuntimeHelpers.GetUninitializedObject(typeof(StartedSession));
        var secret = typeof(StartedSession).GetProperty(nameof(StartedSession.SessionSecret))!;
        type.Properties.Single(p => p.Name == "sessionSecret").Set = (session, value) => secret.SetValue(session, value);
    }
}
