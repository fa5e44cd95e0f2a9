using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace MindJourney.Api.Data;

public static class DatabaseServiceExtensions
{
    private const string MaxPoolSizeKeyword = "Maximum Pool Size";

    /// <summary>One pooled data source for everything: the hot path uses it directly, EF Core for the rest.</summary>
    public static IHostApplicationBuilder AddDatabase(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        // Aspire's health check would wait on a silent network as long as the silence lasts: ours is bounded.
        builder.AddNpgsqlDataSource(ResourceNames.Database, settings => settings.DisableHealthChecks = true, dataSource =>
        {
            // Session creation sends the same few statements over and over: keep them prepared.
            dataSource.ConnectionStringBuilder.MaxAutoPrepare = 32;

            // A small pool beats Npgsql's default of 100 under load: requests queue for a connection in the API
            // instead of many backends contending for a few cores (docs/BENCHMARKS.md). A connection string that
            // names its own size wins. Keys holds only the keywords the string sets, by their canonical names.
            var configured = new NpgsqlConnectionStringBuilder(builder.Configuration.GetConnectionString(ResourceNames.Database));
            if (!configured.Keys.Cast<string>().Contains(MaxPoolSizeKeyword, StringComparer.OrdinalIgnoreCase))
            {
                // Read here, not from IOptions: the data source has no services. Program checks every setting first.
                dataSource.ConnectionStringBuilder.MaxPoolSize =
                    (builder.Configuration.GetSection(DatabaseOptions.SectionName).Get<DatabaseOptions>() ?? new()).MaxPoolSize;
            }
        });
        builder.Services.AddSingleton<Infrastructure.DatabaseDeadline>();
        builder.Services.AddSingleton<DatabaseHealthCheck>(); // one instance: it keeps the probe in flight
        builder.Services.AddHealthChecks().AddCheck<DatabaseHealthCheck>(DatabaseHealthCheck.Name, HealthStatus.Unhealthy, ["ready"]);
        builder.Services.AddDbContextPool<MindJourneyDbContext>((services, options) => options
            .UseNpgsql(services.GetRequiredService<NpgsqlDataSource>())
            .UseSnakeCaseNamingConvention());
        return builder;
    }
}
