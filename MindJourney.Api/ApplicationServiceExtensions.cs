using Microsoft.EntityFrameworkCore;
using MindJourney.Api.Admin;
using MindJourney.Api.Data;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Responses;
using MindJourney.Api.Sessions;
using MindJourney.Api.Storage;
using MindJourney.Api.Telemetry;
using Npgsql;

namespace MindJourney.Api;

public static class ApplicationServiceExtensions
{
    /// <summary>Connections one API instance keeps to PostgreSQL unless told otherwise.</summary>
    public const int DefaultMaxPoolSize = 16;

    private const string MaxPoolSizeKeyword = "Maximum Pool Size";

    public static IHostApplicationBuilder AddApplicationServices(this IHostApplicationBuilder builder)
    {
        // One pooled data source for everything: the hot path uses it directly, EF Core for the rest.
        builder.AddNpgsqlDataSource(ResourceNames.Database, configureDataSourceBuilder: dataSource =>
        {
            // Session creation sends the same few statements over and over: keep them prepared.
            dataSource.ConnectionStringBuilder.MaxAutoPrepare = 32;

            // A small pool beats Npgsql's default of 100 under load: requests queue for a connection in the API
            // instead of 100 backends contending for a few cores (64 users, 2 cores: ~1,600 sessions/s with 16,
            // ~960/s with 100; docs/BENCHMARKS.md). A connection string that names its own size wins.
            // Keys holds only the keywords the string sets, by their canonical names (MaxPoolSize is a synonym).
            var configured = new NpgsqlConnectionStringBuilder(builder.Configuration.GetConnectionString(ResourceNames.Database));
            if (!configured.Keys.Cast<string>().Contains(MaxPoolSizeKeyword, StringComparer.OrdinalIgnoreCase))
            {
                dataSource.ConnectionStringBuilder.MaxPoolSize =
                    builder.Configuration.GetValue("MindJourney:Database:MaxPoolSize", DefaultMaxPoolSize);
            }
        });
        builder.Services.AddDbContextPool<MindJourneyDbContext>((services, options) => options
            .UseNpgsql(services.GetRequiredService<NpgsqlDataSource>())
            .UseSnakeCaseNamingConvention());

        builder.Services.AddSingleton<VisitorNumberingTelemetry>();
        builder.AddSessions();
        builder.Services.AddSingleton<ResponseRecorder>();
        builder.Services.AddOptions<ResponsesOptions>().BindConfiguration(ResponsesOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ResponsePages>();
        builder.AddResponseStorage();

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
        builder.Services.AddAdminServices(builder.Configuration);

        builder.Services.AddOpenApi();

        return builder;
    }
}
