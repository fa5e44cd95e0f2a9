using System.Text.RegularExpressions;
using MindJourney.Api.Admin;
using MindJourney.Api.Sessions;

namespace MindJourney.Api.Tests;

/// <summary>The benchmarks must run exactly the SQL the API runs, or their figures in docs/BENCHMARKS.md mean
/// nothing.</summary>
public sealed partial class BenchmarkSqlTests
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
