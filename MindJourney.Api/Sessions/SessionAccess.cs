using Microsoft.AspNetCore.Authentication;
using MindJourney.Api.Admin;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Telemetry;
using Npgsql;

namespace MindJourney.Api.Sessions;

/// <summary>
/// Reading a session, its answers or its files, and changing it, needs the session's secret (header
/// <c>X-Session-Secret</c>) or the admin key. Without either the answer is 401; with a secret that is not this
/// session's, 404, exactly as for a session that does not exist, so nobody can probe which ids exist. Resuming a
/// person (<c>POST /api/session</c> with a <c>userId</c>) takes the same proof: the secret of any of their sessions.
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

    private const string ByAdminKey = "mindjourney:session-access-by-admin-key";

    /// <summary>What a request shows of its right to a session or a person.</summary>
    private enum Proof
    {
        /// <summary>No secret, and no admin key or a wrong (or throttled) one.</summary>
        None,

        /// <summary>A secret that is not one of theirs, or that cannot be a secret at all.</summary>
        WrongSecret,
        Secret,
        AdminKey,
    }

    /// <summary>True when the admin key (not the session's secret) let this request in: the handler may then do what
    /// only a researcher may.</summary>
    public static bool IsAdmin(HttpContext http) => http.Items.ContainsKey(ByAdminKey);

    /// <summary>True when the request proves it is the person <paramref name="userId"/>: the secret of any of their
    /// sessions or the admin key.</summary>
    public static async Task<bool> ProvesPersonAsync(HttpContext http, Guid userId, CancellationToken cancellationToken) =>
        (await ProveAsync(http, PersonHashesSql, userId, cancellationToken)).Proof is Proof.Secret or Proof.AdminKey;

    /// <summary>Routes whose <c>{id}</c> is a session id.</summary>
    public static TBuilder RequireSessionSecret<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new SecretRequired("id", SessionHashesSql, "session"));

    /// <summary>Routes whose <c>{responseId}</c> is a response id: the secret of the response's session.</summary>
    public static TBuilder RequireResponseSessionSecret<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new SecretRequired("responseId", ResponseHashesSql, "response"));

    /// <summary>After routing, the rate limiter and authentication, before the endpoint binds its parameters: a caller
    /// without the secret is answered before a byte of its body is read, and before every filter (request validation).</summary>
    public static IApplicationBuilder UseSessionAccess(this IApplicationBuilder app) => app.UseMiddleware<SessionAccessMiddleware>();

    /// <summary>A secret of the wrong form is refused before any query; every row's hashes are compared (in constant
    /// time), so the time taken does not tell which one matched.</summary>
    private static async Task<(Proof Proof, AuthenticateResult? Admin)> ProveAsync(HttpContext http, string hashesSql, Guid id,
        CancellationToken cancellationToken)
    {
        var presented = http.Request.Headers[SessionSecrets.Header];
        if (presented.Count == 0)
        {
            var admin = await http.AuthenticateAsync(AdminKeyAuthenticationHandler.SchemeName);
            return (admin.Succeeded ? Proof.AdminKey : Proof.None, admin);
        }

        if (presented.Count != 1 || !SessionSecrets.IsWellFormed(presented[0]))
        {
            return (Proof.WrongSecret, null);
        }

        var dataSource = http.RequestServices.GetRequiredService<NpgsqlDataSource>();
        await using var command = dataSource.CreateCommand(hashesSql);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var match = false;
        while (await reader.ReadAsync(cancellationToken))
        {
            match |= !reader.IsDBNull(0) && SessionSecrets.Matches(presented[0], reader.GetFieldValue<byte[][]>(0));
        }

        return (match ? Proof.Secret : Proof.WrongSecret, null);
    }

    /// <summary>Marks an endpoint that needs the secret of the session its route value names.</summary>
    private sealed record SecretRequired(string RouteValue, string HashesSql, string What)
    {
        public async Task<IResult?> RefusalAsync(HttpContext http, CancellationToken cancellationToken)
        {
            var id = Guid.Parse((string)http.GetRouteValue(RouteValue)!); // the route's guid constraint matched
            var (proof, admin) = await ProveAsync(http, HashesSql, id, cancellationToken);
            switch (proof)
            {
                case Proof.Secret:
                    return null;
                case Proof.AdminKey:
                    http.Items[ByAdminKey] = true;
                    return null;
                case Proof.WrongSecret:
                    return Problems.NotFound($"No {What} with id '{id}'.");
                default:
                    return AdminAuthThrottle.Refusal(http, admin!) ?? Problems.Unauthorized(
                        $"Send the session's secret in the {SessionSecrets.Header} header (it was returned when the session started).");
            }
        }
    }

    private sealed class SessionAccessMiddleware(RequestDelegate next, DatabaseDeadline deadline, VisitorNumberingTelemetry telemetry)
    {
        public async Task InvokeAsync(HttpContext http)
        {
            // The secret's lookup waits for the database at most the deadline, as the route behind it does.
            if (http.GetEndpoint()?.Metadata.GetMetadata<SecretRequired>() is { } required
                && await deadline.RunForRequestAsync(http, token => required.RefusalAsync(http, token),
                    telemetry.OtherDeadlinesPassed, "A session's secret") is { } refusal)
            {
                await refusal.ExecuteAsync(http);
                return;
            }

            await next(http);
        }
    }
}
