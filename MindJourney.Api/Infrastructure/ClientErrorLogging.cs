using Microsoft.AspNetCore.Diagnostics;
using MindJourney.Api.Sessions;

namespace MindJourney.Api.Infrastructure;

/// <summary>Logs each refused request once, at one place, whatever refused it (validation, binding, routing,
/// rate limiting). The route pattern is logged rather than the raw path, so no client-chosen text reaches the log.</summary>
internal sealed partial class ClientErrorLogging(RequestDelegate next, WarmUpRequests warmUp, ILogger<ClientErrorLogging> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        await next(context);

        var status = context.Response.StatusCode;
        // The warm-up's Plays are refused (404) on purpose: they are for an experiment no one has.
        if (status is >= 400 and < 500 && !warmUp.IsWarmUp(context))
        {
            // The exception handler clears the endpoint before it writes its answer; its feature keeps it.
            var endpoint = context.GetEndpoint() ?? context.Features.Get<IExceptionHandlerFeature>()?.Endpoint;
            var route = (endpoint as RouteEndpoint)?.RoutePattern.RawText ?? "(no route)";
            LogRefused(logger, context.Request.Method, route, status);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused {Method} {Route} with {Status}")]
    private static partial void LogRefused(ILogger logger, string method, string route, int status);
}
