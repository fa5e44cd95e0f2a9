using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;

namespace MindJourney.Testing;

/// <summary>A fresh database and one or more real API hosts on it, with the few SQL reads tests assert on.</summary>
public sealed class TestApi : IAsyncDisposable
{
    private readonly List<ApiHost> _hosts = [];

    private TestApi(string connectionString) => ConnectionString = connectionString;

    public string ConnectionString { get; }

    public IReadOnlyList<ApiHost> Hosts => _hosts;

    public HttpClient Client => _hosts[0].CreateClient();

    public static async Task<TestApi> StartAsync(PostgresServer server, int instances = 1, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var api = new TestApi(await server.CreateDatabaseAsync());
        for (var i = 0; i < instances; i++)
        {
            api._hosts.Add(new ApiHost(api.ConnectionString, settings));
        }

        // Start them together, as replicas would: migrations must not race.
        await Task.WhenAll(api._hosts.Select(h => Task.Run(h.StartServer)));
        return api;
    }

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync();
        return value is DBNull or null ? default! : (T)Convert.ChangeType(value, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), System.Globalization.CultureInfo.InvariantCulture);
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

    public async Task<Guid> ActiveExperimentIdAsync(HttpClient? client = null)
    {
        var experiment = await (client ?? Client).GetFromJsonAsync<JsonElement>("/api/experiment");
        return experiment.GetProperty("id").GetGuid();
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
