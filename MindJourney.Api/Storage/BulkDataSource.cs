using Microsoft.Extensions.Options;
using MindJourney.Api.Data;
using Npgsql;

namespace MindJourney.Api.Storage;

/// <summary>
/// Connections for bulk transfers only (an upload's COPY, the slices a download or a delivery reads), in a small
/// pool of their own (<see cref="DatabaseOptions.BulkMaxPoolSize"/>): however many uploads arrive at once, they queue
/// here, and Play never waits behind them for a connection of the main pool. Why two by default: docs/BENCHMARKS.md.
/// </summary>
public sealed class BulkDataSource : IAsyncDisposable
{
    public BulkDataSource(IConfiguration configuration, IOptions<DatabaseOptions> options, ILoggerFactory loggers)
    {
        var connectionString = configuration.GetConnectionString(ResourceNames.Database)
            ?? throw new InvalidOperationException($"ConnectionStrings:{ResourceNames.Database} is not set.");
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        builder.ConnectionStringBuilder.MaxPoolSize = options.Value.BulkMaxPoolSize;
        builder.UseLoggerFactory(loggers);
        DataSource = builder.Build();
    }

    public NpgsqlDataSource DataSource { get; }

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}
