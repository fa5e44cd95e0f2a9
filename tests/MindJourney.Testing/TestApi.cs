using Microsoft.Extensions.DependencyInjection;
using MindJourney.Api.Experiments;
using Npgsql;

namespace MindJourney.Testing;

/// <summary>A fresh database and one or more real API hosts on it, with the few SQL reads tests assert on.</summary>
public sealed class TestApi : IAsyncDisposable
{
    private readonly List<ApiHost> _hosts = [];
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _services;
    private readonly bool _productionLimits;

    private TestApi(string connectionString, IReadOnlyDictionary<string, string?> settings, Action<IServiceCollection>? services,
        bool productionLimits)
    {
        ConnectionString = connectionString;
        _settings = settings;
        _services = services;
        _productionLimits = productionLimits;
    }

    public string ConnectionString { get; }

    /// <summary>What the hosts connect with: <see cref="ConnectionString"/>, or through a relay.</summary>
    public string HostConnectionString { get; private init; } = "";

    /// <summary>The storage emulator the hosts use, when the test asked for one.</summary>
    public TestStorage? Storage { get; private init; }

    public IReadOnlyList<ApiHost> Hosts => _hosts;

    public HttpClient Client => _hosts[0].CreateClient();

    /// <summary>Hosts on a fresh database; with <paramref name="storage"/>, pointed at that emulator, with a storage
    /// worker that polls and retries within a second (so tests need not wait for production backoffs); with
    /// <paramref name="services"/>, those added to each host's own; with <paramref name="productionLimits"/>, every
    /// per-client limit at its production default (as a stranger with the study link meets it); with
    /// <paramref name="relay"/>, the hosts reach PostgreSQL through it (the test's own reads do not).</summary>
    public static async Task<TestApi> StartAsync(PostgresServer server, int instances = 1,
        IReadOnlyDictionary<string, string?>? settings = null, TestStorage? storage = null, Action<IServiceCollection>? services = null,
        bool productionLimits = false, PostgresRelay? relay = null)
    {
        var merged = new Dictionary<string, string?>();
        if (storage is not null)
        {
            foreach (var (key, value) in storage.Settings)
            {
                merged[key] = value;
            }

            merged["MindJourney:Storage:PollIntervalSeconds"] = "0.1";
            merged["MindJourney:Storage:RetryInitialDelaySeconds"] = "0.2";
            merged["MindJourney:Storage:RetryMaxDelaySeconds"] = "1";
            merged["MindJourney:Storage:UploadTimeoutSeconds"] = "5";
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            merged[key] = value;
        }

        var database = await server.CreateDatabaseAsync();
        var api = new TestApi(database, merged, services, productionLimits)
        {
            Storage = storage,
            HostConnectionString = relay is null ? database
                : new NpgsqlConnectionStringBuilder(database) { Port = relay.Port }.ConnectionString,
        };
        for (var i = 0; i < instances; i++)
        {
            api._hosts.Add(new ApiHost(api.HostConnectionString, merged, services, productionLimits));
        }

        // Start them together, as replicas would: migrations must not race.
        await Task.WhenAll(api._hosts.Select(h => Task.Run(h.StartServer)));
        return api;
    }

    /// <summary>Stops host <paramref name="index"/> (as a crash or deploy would) and starts a new one with the same
    /// settings on the same database in its place.</summary>
    public async Task RestartHostAsync(int index = 0)
    {
        await _hosts[index].DisposeAsync();
        var host = new ApiHost(HostConnectionString, _settings, _services, _productionLimits);
        host.StartServer();
        _hosts[index] = host;
    }

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync();
        return value is DBNull or null
            ? default!
            : (T)Convert.ChangeType(value, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T),
                System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>The sequence's position: the last number handed out, or 0 when none was.</summary>
    public Task<long> SequencePositionAsync() =>
        ScalarAsync<long>("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM visitor_counter_sequence");

    public async Task<Guid> ActiveExperimentIdAsync(HttpClient? client = null) =>
        (await (client ?? Client).GetAsAsync<ExperimentSummary>("/api/experiment")).Id;

    /// <summary>The study's current pilot token, as the API issues it under the test hosts' signing key (what a
    /// researcher reads in the study's pilotUrl).</summary>
    public async Task<string> PilotTokenAsync(Guid experimentId)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT pilot_nonce FROM experiments WHERE id = '{experimentId}'", connection);
        var nonce = (byte[])(await command.ExecuteScalarAsync())!;
        return PilotTokens.Compute(System.Text.Encoding.UTF8.GetBytes(ApiHost.RequiredSettings["MindJourney:Pilot:SigningKey"]!),
            experimentId, nonce);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        NpgsqlConnection.ClearAllPools();
    }
}
