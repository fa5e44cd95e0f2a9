using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using MindJourney.Api.Data;
using MindJourney.Testing;
using Npgsql;

namespace MindJourney.Api.Tests;

/// <summary>The studies migration on a database with people in it: active experiments become open, each study's
/// people are numbered in the order of their visitor numbers, and the counts continue from there.</summary>
[Collection(PostgresCollection.Name)]
public sealed class StudyMigrationTests(PostgresServer postgres)
{
    private const string Seeded = "6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001";
    private const string Other = "0190a5b2-0000-7000-8000-0000000000e2";

    [Fact]
    public async Task Existing_people_get_study_numbers_in_visitor_number_order_and_active_experiments_become_open()
    {
        var connectionString = await postgres.CreateDatabaseAsync();
        await using (var db = new MindJourneyDbContext(new DbContextOptionsBuilder<MindJourneyDbContext>()
            .UseNpgsql(connectionString).UseSnakeCaseNamingConvention().Options))
        {
            var migrator = db.GetService<IMigrator>();
            await migrator.MigrateAsync("AnswerCountersAndKeys"); // the schema before studies
            await ExecuteAsync(connectionString, $"""
                INSERT INTO experiments (id, title, total_levels, is_active, created_at)
                VALUES ('{Other}', 'Old study', 2, FALSE, now());
                INSERT INTO users (id, is_anonymous, mode, visitor_number) VALUES
                    ('0190a5b2-0000-7000-8000-0000000000a1', TRUE, 'live', 5),
                    ('0190a5b2-0000-7000-8000-0000000000a2', TRUE, 'live', 2),
                    ('0190a5b2-0000-7000-8000-0000000000a3', TRUE, 'live', NULL),
                    ('0190a5b2-0000-7000-8000-0000000000a4', TRUE, 'pilot', 1);
                INSERT INTO experiment_sessions (id, user_id, experiment_id, visitor_number, mode, current_level, is_completed,
                                                 created_at, updated_at) VALUES
                    ('0190a5b2-0000-7000-8000-0000000000b1', '0190a5b2-0000-7000-8000-0000000000a1', '{Seeded}', 5, 'live', 1, FALSE,
                     '2026-01-01T10:00Z', now()),
                    ('0190a5b2-0000-7000-8000-0000000000b2', '0190a5b2-0000-7000-8000-0000000000a2', '{Seeded}', 2, 'live', 1, FALSE,
                     '2026-01-01T11:00Z', now()),
                    ('0190a5b2-0000-7000-8000-0000000000b3', '0190a5b2-0000-7000-8000-0000000000a3', '{Seeded}', NULL, 'live', 1,
                     FALSE, '2026-01-01T09:00Z', now()),
                    ('0190a5b2-0000-7000-8000-0000000000b4', '0190a5b2-0000-7000-8000-0000000000a2', '{Seeded}', 2, 'live', 1, FALSE,
                     '2026-01-01T12:00Z', now()),
                    ('0190a5b2-0000-7000-8000-0000000000b5', '0190a5b2-0000-7000-8000-0000000000a4', '{Seeded}', 1, 'pilot', 1, FALSE,
                     '2026-01-01T12:00Z', now()),
                    ('0190a5b2-0000-7000-8000-0000000000b6', '0190a5b2-0000-7000-8000-0000000000a1', '{Other}', 5, 'live', 1, FALSE,
                     '2026-01-01T13:00Z', now());
                """);
            await migrator.MigrateAsync();
        }

        // Visitor 2 (both sessions), visitor 5, then the person still without a number; pilots apart.
        Assert.Equal("b1:2 b2:1 b3:3 b4:1 b5:1 b6:1", await ScalarAsync<string>(connectionString, """
            SELECT string_agg(right(id::text, 2) || ':' || study_participant_number, ' ' ORDER BY id) FROM experiment_sessions
            """));
        Assert.Equal("closed:1:0 open:3:1", await ScalarAsync<string>(connectionString, """
            SELECT string_agg(status || ':' || participants_numbered || ':' || pilots_numbered, ' ' ORDER BY status) FROM experiments
            """));
        Assert.Equal("mindjourney", await ScalarAsync<string>(connectionString, $"SELECT slug FROM experiments WHERE id = '{Seeded}'"));
        Assert.Matches("^study-[0-9a-f]{16}$",
            await ScalarAsync<string>(connectionString, $"SELECT slug FROM experiments WHERE id = '{Other}'"));
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<T> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
