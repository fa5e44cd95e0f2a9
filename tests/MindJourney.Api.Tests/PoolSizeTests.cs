using Microsoft.Extensions.DependencyInjection;
using MindJourney.Api.Data;
using MindJourney.Testing;
using Npgsql;

namespace MindJourney.Api.Tests;

/// <summary>The API caps its pool at 16 connections unless the connection string names its own maximum; other pool
/// settings (a minimum, a lifetime) leave the cap in place.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PoolSizeTests(PostgresServer postgres)
{
    [Theory]
    [InlineData("Minimum Pool Size=1", DatabaseOptions.DefaultMaxPoolSize)]
    [InlineData("Connection Idle Lifetime=60", DatabaseOptions.DefaultMaxPoolSize)]
    [InlineData("Maximum Pool Size=7", 7)]
    [InlineData("MaxPoolSize=9", 9)]
    public async Task The_default_cap_applies_unless_the_connection_string_names_a_maximum(string setting, int expected)
    {
        var connectionString = new NpgsqlConnectionStringBuilder(await postgres.CreateDatabaseAsync());
        connectionString.Remove("Maximum Pool Size");
        await using var api = new ApiHost($"{connectionString};{setting}");

        var dataSource = api.Services.GetRequiredService<NpgsqlDataSource>();

        Assert.Equal(expected, new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).MaxPoolSize);
    }
}
