using MindJourney.Api.Data;
using MindJourney.Api.Sessions;
using MindJourney.Testing;
using Npgsql;

namespace MindJourney.Api.Tests;

/// <summary>The numbering statements are prepared, so PostgreSQL plans them once, often while a study's tables are
/// still small, and keeps that plan as the tables grow. These tests take the plan PostgreSQL keeps (the generic one)
/// at the worst moment, just after ANALYZE saw a small table, and ask for index probes only.</summary>
[Collection(PostgresCollection.Name)]
public sealed class NumberingPlanTests(PostgresServer postgres)
{
    private const string SingleParameters = "uuid, int, uuid, uuid, text, jsonb, text, bytea, bytea, text";
    private const string BatchParameters = "uuid[], int[], uuid[], uuid[], text[], jsonb[], text[], bytea[], bytea[], text[]";

    [Theory]
    [InlineData(nameof(VisitorNumberSql.NewVisitors))]
    [InlineData(nameof(VisitorNumberSql.NewVisitor))]
    [InlineData(nameof(VisitorNumberSql.ReturningUser))]
    [InlineData(nameof(VisitorNumberSql.Recruited))]
    public async Task A_plan_made_on_a_small_table_reads_sessions_through_their_indexes(string statement)
    {
        var (sql, parameters) = statement switch
        {
            nameof(VisitorNumberSql.NewVisitors) => (VisitorNumberSql.NewVisitors, BatchParameters),
            nameof(VisitorNumberSql.NewVisitor) => (VisitorNumberSql.NewVisitor, SingleParameters),
            nameof(VisitorNumberSql.Recruited) => (VisitorNumberSql.Recruited, SingleParameters + ", text, bytea, text, text, text"),
            _ => (VisitorNumberSql.ReturningUser, SingleParameters),
        };
        await using var api = await SmallAnalyzedStudyAsync();
        await using var connection = new NpgsqlConnection(api.ConnectionString);
        await connection.OpenAsync();

        var withHints = await GenericPlanAsync(connection, sql, parameters, VisitorNumberSql.PlanWithIndexes);

        Assert.DoesNotContain("Seq Scan on experiment_sessions", withHints, StringComparison.Ordinal);
        Assert.DoesNotContain("Seq Scan on users", withHints, StringComparison.Ordinal);
        Assert.DoesNotContain("Hash", withHints, StringComparison.Ordinal);
        Assert.Contains("ix_experiment_sessions_idempotency_key", withHints, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_the_settings_the_batch_plan_on_a_small_table_would_read_every_session()
    {
        // The case the settings are for: it shows the test above asks at a moment where it matters.
        await using var api = await SmallAnalyzedStudyAsync();
        await using var connection = new NpgsqlConnection(api.ConnectionString);
        await connection.OpenAsync();

        var plain = await GenericPlanAsync(connection, VisitorNumberSql.NewVisitors, BatchParameters, setup: null);

        Assert.Contains("Seq Scan on experiment_sessions", plain, StringComparison.Ordinal);
    }

    /// <summary>A study with a few dozen sessions (a pilot), just analyzed: the statistics say the tables are tiny.</summary>
    private async Task<TestApi> SmallAnalyzedStudyAsync()
    {
        var api = await TestApi.StartAsync(postgres);
        var experimentId = await api.ActiveExperimentIdAsync();
        for (var i = 0; i < 60; i++)
        {
            await SessionNumberingTests.CreateSessionAsync(api.Client, new { experimentId }, $"small-study-play-{i:D4}");
        }

        await api.ExecuteAsync("ANALYZE");
        return api;
    }

    /// <summary>The plan PostgreSQL keeps for the prepared statement, made after <paramref name="setup"/> ran in the
    /// same transaction (as the API sends it, in the same round trip).</summary>
    internal static async Task<string> GenericPlanAsync(NpgsqlConnection connection, string sql, string parameters, string? setup)
    {
        await using var transaction = await connection.BeginTransactionAsync();
        if (setup is not null)
        {
            await connection.ExecuteAsync(setup, timeoutSeconds: null, CancellationToken.None);
        }

        await connection.ExecuteAsync("SET LOCAL plan_cache_mode = force_generic_plan", timeoutSeconds: null, CancellationToken.None);
        await connection.ExecuteAsync($"PREPARE numbering ({parameters}) AS {sql}", timeoutSeconds: null, CancellationToken.None);
        var arguments = string.Join(", ", Enumerable.Repeat("NULL", parameters.Split(',').Length));
        await using var explain = new NpgsqlCommand($"EXPLAIN EXECUTE numbering ({arguments})", connection, transaction);
        await using var reader = await explain.ExecuteReaderAsync();
        var lines = new List<string>();
        while (await reader.ReadAsync())
        {
            lines.Add(reader.GetString(0));
        }

        return string.Join('\n', lines);
    }
}
