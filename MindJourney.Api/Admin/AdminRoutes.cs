using MindJourney.Api.Infrastructure;

namespace MindJourney.Api.Admin;

/// <summary>The one <c>/api/admin</c> group. Its rules are set here once: the admin key, no caching, request
/// validation. Every researcher route (this folder's, the export) is mapped on it.</summary>
public static class AdminRoutes
{
    public static RouteGroupBuilder MapAdminGroup(this IEndpointRouteBuilder app) =>
        app.MapGroup("/api/admin")
            .WithTags("Admin")
            .RequireAuthorization(AdminKeyAuthenticationHandler.PolicyName)
            .AddEndpointFilter(NotStored)
            .WithRequestValidation();

    /// <summary>Participants' data and what the key did: never kept by a browser cache or a proxy.</summary>
    private static async ValueTask<object?> NotStored(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        context.HttpContext.Response.Headers.CacheControl = "no-store";
        return await next(context);
    }
}
