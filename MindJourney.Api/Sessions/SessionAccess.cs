using Microsoft.AspNetCore.Authentication;
using MindJourney.Api.Admin;
using MindJourney.Api.Infrastructure;
using Npgsql;

namespace MindJourney.Api.Sessions;

/// <summary>
/// Reading a session, its answers or its files, and changing it, needs the session's secret (header
/// <c>X-Session-Secret</c>) or the admin key. Without either the answer is 401; with a secret that is not this
/// session's, 404, exactly as for a session that does not exist, so nobody can probe which ids exist.
/// </summary>
public static class SessionAccess
{
    private const string SessionHashesSql = "SELECT secret_hashes FROM experiment_sessions WHERE id = $1";

    private const string ResponseHashesSql = """
        SELECT s.secret_hashes FROM experiment_responses r JOIN experiment_sessions s ON s.id = r.session_id
        WHERE r.id = $1
        """;

    private const string ByAdminKey = "mindjourney:session-access-by-admin-key";

    /// <summary>True when the admin key (not the session's secret) let this request in: the handler may then do what
    /// only a researcher may.</summary>
    public static bool IsAdmin(HttpContext http) => http.Items.ContainsKey(ByAdminKey);

    /// <summary>Routes whose <c>{id}</c> is a session id.</summary>
    public static TBuilder RequireSessionSecret<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.CheckedFirst(new Filter("id", SessionHashesSql, "session"));

    /// <summary>Routes whose <c>{responseId}</c> is a response id: the secret of the response's session.</summary>
    public static TBuilder RequireResponseSessionSecret<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.CheckedFirst(new Filter("responseId", ResponseHashesSql, "response"));

    /// <summary>Access comes before every other filter, also those of an enclosing group (request validation): without
    /// the secret the answer is 401 or 404 whatever the request holds.</summary>
    private static TBuilder CheckedFirst<TBuilder>(this TBuilder builder, Filter filter) where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(endpoint => endpoint.FilterFactories.Insert(0, (_, next) => invocation => filter.InvokeAsync(invocation, next)));
        return builder;
    }

    private sealed class Filter(string routeValue, string hashesSql, string what) : IEndpointFilter
    {
        public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
        {
            var http = context.HttpContext;
            var id = Guid.Parse((string)http.GetRouteValue(routeValue)!); // the route's guid constraint matched
            var presented = http.Request.Headers[SessionSecrets.Header];
            if (presented.Count == 0)
            {
                var admin = await http.AuthenticateAsync(AdminKeyAuthenticationHandler.SchemeName);
                if (admin.Succeeded)
                {
                    http.Items[ByAdminKey] = true;
                    return await next(context);
                }

                if (AdminAuthThrottle.Refusal(http, admin) is { } throttled)
                {
                    return throttled;
                }

                return Problems.Unauthorized(
                    $"Send the session's secret in the {SessionSecrets.Header} header (it was returned when the session started).");
            }

            var dataSource = http.RequestServices.GetRequiredService<NpgsqlDataSource>();
            await using var command = dataSource.CreateCommand(hashesSql);
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
            var hashes = await command.ExecuteScalarAsync(http.RequestAborted) as byte[][];
            return presented.Count == 1 && SessionSecrets.Matches(presented[0], hashes)
                ? await next(context)
                : Problems.NotFound($"No {what} with id '{id}'.");
        }
    }
}
