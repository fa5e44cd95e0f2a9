using Npgsql;

namespace MindJourney.Api.Storage;

/// <summary>
/// Connections for bulk transfers only (an upload's COPY, the slices a download or a delivery reads), in a small
/// pool of their own: however many uploads arrive at once, they queue here, and Play never waits behind them for
/// a connection of the main pool.
/// </summary>
public sealed class BulkDataSource : IAsyncDisposable
{
    /// <summary>Setting (under <c>MindJourney:Database</c>) for the size of this pool.</summary>
    public const string MaxPoolSizeKey = "MindJourney:Database:BulkMaxPoolSize";

    /// <summary>Two COPYs at a time keep uploads moving (eight 50 MiB uploads in about 4 s on 2 cores) while leaving
    /// the database's CPU to Play: with four, Play's p99 under that load was 2–3 times higher.</summary>
    public const int DefaultMaxPoolSize = 2;

    public BulkDataSource(IConfiguration configuration, ILoggerFactory loggers)
    {
        var connectionString = configuration.GetConnectionString(ResourceNames.Database)
            ?? throw new InvalidOperationException($"ConnectionStrings:{ResourceNames.Database} is not set.");
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        builder.ConnectionStringBuilder.MaxPoolSize = Math.Max(1, configuration.GetValue(MaxPoolSizeKey, DefaultMaxPoolSize));
        builder.UseLoggerFactory(loggers);
        DataSource = builder.Build();
    }

    public NpgsqlDataSource DataSource { get; }

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}
