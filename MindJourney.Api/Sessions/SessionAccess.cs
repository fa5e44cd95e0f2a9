using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
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

    // One walk of the index on experiment_sessions.user_id: the hashes of every session the person has.
    private const string PersonHashesSql = "SELECT secret_hashes FROM experiment_sessions WHERE user_id = $1";

    /// <summary>True when the request proves it is the person <paramref name="userId"/>: the secret of any of their
    /// sessions (header <c>X-Session-Secret</c>) or the admin key. A secret of the wrong form is refused before any
    /// query; the hashes are compared in constant time.</summary>
    public static async Task<bool> ProvesPersonAsync(HttpContext http, Guid userId)
    {
        var presented = http.Request.Headers[SessionSecrets.Header];
        if (presented.Count == 0)
        {
            return (await http.AuthenticateAsync(AdminKeyAuthenticationHandler.SchemeName)).Succeeded;
        }

        if (presented.Count != 1 || !SessionSecrets.IsWellFormed(presented[0]))
        {
            return false;
        }

        var dataSource = http.RequestServices.GetRequiredService<NpgsqlDataSource>();
        await using var command = dataSource.CreateCommand(PersonHashesSql);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = userId });
        await using var reader = await command.ExecuteReaderAsync(http.RequestAborted);
        var match = false;
        while (await reader.ReadAsync(http.RequestAborted))
        {
            // Every session is looked at, so the time taken does not tell which one matched.
            match |= !reader.IsDBNull(0) && SessionSecrets.Matches(presented[0], reader.GetFieldValue<byte[][]>(0));
        }

        return match;
    }

    /// <summary>Routes whose <c>{id}</c> is a session id.</summary>
    public static TBuilder RequireSessionSecret<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new SecretRequired("id", SessionHashesSql, "session"));

    /// <summary>Routes whose <c>{responseId}</c> is a response id: the secret of the response's session.</summary>
    public static TBuilder RequireResponseSessionSecret<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new SecretRequired("responseId", ResponseHashesSql, "response"));

    /// <summary>After routing, the rate limiter and authentication, before the endpoint binds its parameters: a caller
    /// without the secret is answered before a byte of its body is read, and before every filter (request validation).</summary>
    public static IApplicationBuilder UseSessionAccess(this IApplicationBuilder app) => app.UseMiddleware<SessionAccessMiddleware>();

    /// <summary>Marks an endpoint that needs the secret of the session its route value names.</summary>
    private sealed record SecretRequired(string RouteValue, string HashesSql, string What)
    {
        public async Task<ProblemHttpResult?> RefusalAsync(HttpContext http)
        {
            var id = Guid.Parse((string)http.GetRouteValue(RouteValue)!); // the route's guid constraint matched
            var presented = http.Request.Headers[SessionSecrets.Header];
            if (presented.Count == 0)
            {
                return (await http.AuthenticateAsync(AdminKeyAuthenticationHandler.SchemeName)).Succeeded
                    ? null
                    : Problems.Unauthorized(
                        $"Send the session's secret in the {SessionSecrets.Header} header (it was returned when the session started).");
            }

            var notFound = Problems.NotFound($"No {What} with id '{id}'.");

            // A value that cannot be a secret matches no session: answered as a wrong secret is, without a query.
            if (presented.Count != 1 || !SessionSecrets.IsWellFormed(presented[0]))
            {
                return notFound;
            }

            var dataSource = http.RequestServices.GetRequiredService<NpgsqlDataSource>();
            await using var command = dataSource.CreateCommand(HashesSql);
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
            var hashes = await command.ExecuteScalarAsync(http.RequestAborted) as byte[][];
            return SessionSecrets.Matches(presented[0], hashes) ? null : notFound;
        }
    }

    private sealed class SessionAccessMiddleware(RequestDelegate next)
    {
        public async Task InvokeAsync(HttpContext http)
        {
            if (http.GetEndpoint()?.Metadata.GetMetadata<SecretRequired>() is { } required
                && await required.RefusalAsync(http) is { } refusal)
            {
                await refusal.ExecuteAsync(http);
                return;
            }

            await next(http);
        }
    }
}
