using MindJourney.Api.Telemetry;

namespace MindJourney.Api.Infrastructure;

/// <summary>
/// Puts a route group's handlers under <see cref="DatabaseDeadline"/>, set once on the group: the handler gets the
/// deadline's token in place of the request's, and is waited for at most the deadline, then answered 503. For handlers
/// whose work is their database reads and writes (EF Core, a lookup): the result they return is written after it, so
/// a client that reads slowly is not timed. Not for a route whose handler reads a body or waits for storage: those
/// bound their own database work (<c>ResponseIntake</c>).
/// </summary>
public static class DatabaseDeadlineFilter
{
    public static TBuilder WithDatabaseDeadline<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilterFactory(static (context, next) =>
        {
            var parameters = context.MethodInfo.GetParameters();
            var tokens = Enumerable.Range(0, parameters.Length).Where(i => parameters[i].ParameterType == typeof(CancellationToken))
                .ToArray();
            var what = context.MethodInfo.Name;
            return invocation =>
            {
                var http = invocation.HttpContext;
                var deadline = http.RequestServices.GetRequiredService<DatabaseDeadline>();
                var telemetry = http.RequestServices.GetRequiredService<VisitorNumberingTelemetry>();
                return new ValueTask<object?>(deadline.RunForRequestAsync(http, token =>
                {
                    foreach (var i in tokens)
                    {
                        invocation.Arguments[i] = token;
                    }

                    return next(invocation).AsTask();
                }, telemetry.OtherDeadlinesPassed, what));
            };
        });
}
