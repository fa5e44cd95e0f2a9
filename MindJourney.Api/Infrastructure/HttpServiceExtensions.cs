namespace MindJourney.Api.Infrastructure;

public static class HttpServiceExtensions
{
    /// <summary>What every route shares: JSON, problem bodies for every refusal, who the client is, and the per-client
    /// limits.</summary>
    public static IHostApplicationBuilder AddHttpRules(this IHostApplicationBuilder builder)
    {
        builder.Services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJsonContext.Default);
            // One depth for what is read and written back: what is stored is checked against the same rule.
            options.SerializerOptions.MaxDepth = StoredInput.MaxHttpJsonDepth;
        });
        // Binding failures (malformed JSON, wrong types) become exceptions that ApiExceptionHandler turns into 4xx.
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = Problems.AddDefaultDetail);
        builder.Services.AddExceptionHandler<ApiExceptionHandler>();
        builder.Services.AddTrustedProxies(builder.Configuration);
        builder.Services.AddClientRateLimiting(builder.Configuration);
        return builder;
    }
}
