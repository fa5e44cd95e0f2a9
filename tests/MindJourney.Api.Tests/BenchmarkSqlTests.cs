using System.Text.RegularExpressions;
using MindJourney.Api.Admin;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>The benchmarks must run exactly the SQL the API runs, or their figures in docs/BENCHMARKS.md mean
/// nothing; a minimal statement the API is set against must do the work the API's does.</summary>
[Collection(PostgresCollection.Name)]
public sealed partial class BenchmarkSqlTests(PostgresServer postgres)
{
    [Fact]
    public void The_pgbench_script_runs_the_same_statement_as_session_creation()
    {
        var expected = VisitorNumberSql.NewVisitor
            .Replace("$10", "'live'::text", StringComparison.Ordinal) // before $1, which it starts with
            .Replace("$1", "'6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001'::uuid", StringComparison.Ordinal)
            .Replace("$2", ":level", StringComparison.Ordinal)
            .Replace("$3", "gen_random_uuid()", StringComparison.Ordinal)
            .Replace("$4", "gen_random_uuid()", StringComparison.Ordinal)
            .Replace("$5", "NULL::text", StringComparison.Ordinal)
            .Replace("$6", "NULL::jsonb", StringComparison.Ordinal)
            .Replace("$7", "NULL::text", StringComparison.Ordinal)
            .Replace("$8", "NULL::bytea", StringComparison.Ordinal)
            .Replace("$9", "sha256(gen_random_uuid()::text::bytea)", StringComparison.Ordinal);
        var script = File.ReadAllLines(Path.Combine(RepositoryRoot(), "benchmarks", "new-visitor.pgbench.sql"))
            .Where(line => !line.StartsWith("--", StringComparison.Ordinal) && !line.StartsWith('\\'));

        Assert.Equal(Normalise(expected) + ";", Normalise(string.Join('\n', script)));
    }

    [Fact]
    public void The_health_benchmark_runs_the_same_look_as_the_numbering_health_check()
    {
        var expected = NumberingHealthCheck.LookSql
            .Replace("$1", ":'pending_age'::interval", StringComparison.Ordinal)
            .Replace("$2", ":lowest", StringComparison.Ordinal);
        var script = File.ReadAllLines(Path.Combine(RepositoryRoot(), "benchmarks", "health-look.sql"))
            .Where(line => !line.StartsWith("--", StringComparison.Ordinal));

        Assert.Equal(Normalise(expected) + ";", Normalise(string.Join('\n', script)));
    }

    [Fact]
    public async Task The_minimal_answer_checks_and_bumps_the_sessions_quota_and_copies_its_number_as_the_API_does()
    {
        await using var api = await TestApi.StartAsync(postgres);
        await ApiCalls.StartSessionAsync(api);
        var session = await ApiCalls.StartSessionAsync(api);
        var viaApi = await ApiCalls.RecordTextAsync(api.Client, session.Id, new { text = "I came to learn how I focus, and I did." });
        var script = File.ReadAllLines(Path.Combine(RepositoryRoot(), "benchmarks", "minimal-answer.pgbench.sql"))
            .Where(line => !line.StartsWith("--", StringComparison.Ordinal) && !line.StartsWith('\\'));
        var minimal = string.Join('\n', script).Replace(":n", "2", StringComparison.Ordinal); // the session's number

        await api.ExecuteAsync(minimal);

        var where = $"WHERE session_id = '{session.Id}'";
        Assert.Equal(2, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses {where} AND visitor_number = 2 "
            + $"AND user_id = '{session.UserId}' AND response_type = 'text'"));
        Assert.Equal(2, await api.ScalarAsync<int>($"SELECT response_count FROM experiment_sessions WHERE id = '{session.Id}'"));
        // The answer's JSON is counted by both; the API counts the text it writes to storage too.
        Assert.Equal(
            await api.ScalarAsync<long>($"SELECT sum(response_data_bytes) + sum(file_size_bytes) FROM experiment_responses {where}"),
            await api.ScalarAsync<long>($"SELECT stored_bytes FROM experiment_sessions WHERE id = '{session.Id}'"));
        Assert.Equal(viaApi.ResponseData.GetRawText().Length,
            await api.ScalarAsync<long>($"SELECT min(response_data_bytes) FROM experiment_responses {where}"));

        // At its quota the session takes nothing more.
        await api.ExecuteAsync($"UPDATE experiment_sessions SET response_count = 1000000 WHERE id = '{session.Id}'");
        await api.ExecuteAsync(minimal);
        Assert.Equal(2, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses {where}"));
    }

    // Layout is not behaviour: compare with all white space removed.
    private static string Normalise(string sql) => Whitespace().Replace(sql, "");

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MindJourney.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("MindJourney.sln not found above the test's folder.");
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
