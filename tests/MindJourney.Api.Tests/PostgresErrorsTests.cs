using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MindJourney.Api.Infrastructure;
using MindJourney.Testing;
using Npgsql;
using NpgsqlTypes;

namespace MindJourney.Api.Tests;

/// <summary>Which errors of the real server count as the client's data: those answer 400 and never run the
/// numbering fallback; the numbering's own failures (sequence limit, taken number, integer overflow) still do.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresErrorsTests(PostgresServer postgres)
{
    public static TheoryData<string, string, string?, bool> Errors => new()
    {
        // why, SQL ($1 is the text parameter, when one is given), text parameter, caused by client data
        { "NUL in a text value (22021)", "SELECT $1::text", "a\0b", true },
        { "\\u0000 in jsonb (22P05)", "SELECT '{\"a\":\"\\u0000\"}'::jsonb", null, true },
        { "lone surrogate escape in jsonb (22P02)", "SELECT '[\"\\ud800\"]'::jsonb", null, true },
        { "number numeric cannot hold (22003 in numeric.c)", "SELECT '{\"n\":1e1000000}'::jsonb", null, true },
        { "jsonb nested past the stack (54001)", "SELECT (repeat('[', 200000) || repeat(']', 200000))::jsonb", null, true },
        { "longer than a varchar column (22001)", "CREATE TEMP TABLE v (c varchar(3)); INSERT INTO v VALUES ('abcd')", null, true },
        {
            "index row too large (54000)",
            "CREATE TEMP TABLE t (v text); CREATE INDEX ON t (v); " +
            "INSERT INTO t SELECT string_agg(md5(i::text), '') FROM generate_series(1, 1000) i", null, true
        },
        { "nextval past int (22003 in int8.c)", "CREATE TEMP SEQUENCE s START 2147483648; SELECT nextval('s')::int", null, false },
        {
            "sequence at its limit (2200H)",
            "CREATE TEMP SEQUENCE s MAXVALUE 2; SELECT nextval('s'); SELECT nextval('s'); SELECT nextval('s')", null, false
        },
        { "number taken (23505)", "CREATE TEMP TABLE u (n int UNIQUE); INSERT INTO u VALUES (1), (1)", null, false },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public async Task Only_errors_in_the_clients_data_count_as_the_clients(string why, string sql, string? text, bool expected)
    {
        var error = await ErrorOfAsync(await postgres.CreateDatabaseAsync(), sql, text);

        Assert.Contains($"({error.SqlState}", why, StringComparison.Ordinal);
        Assert.True(expected == PostgresErrors.IsCausedByClientData(error), $"{why}: {error.SqlState} {error.File} {error.MessageText}");
    }

    [Fact]
    public async Task The_exception_handler_answers_400_for_refused_data_and_leaves_numbering_failures_alone()
    {
        await using var api = await TestApi.StartAsync(postgres);
        var refused = await ErrorOfAsync(api.ConnectionString, "SELECT '{\"n\":1e1000000}'::jsonb");
        var numbering = await ErrorOfAsync(api.ConnectionString, "CREATE TEMP SEQUENCE s START 2147483648; SELECT nextval('s')::int");

        foreach (var exception in new Exception[] { refused, new DbUpdateException("Saving failed.", refused) })
        {
            var (handled, status, body) = await HandleAsync(api, exception);
            Assert.True(handled, exception.GetType().Name);
            Assert.Equal(StatusCodes.Status400BadRequest, status);
            var problem = JsonDocument.Parse(body).RootElement;
            Assert.Equal(400, problem.GetProperty("status").GetInt32());
            Assert.Contains("22003", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        // Not the client's: left to the 500 path (and, in numbering, to the fallback).
        Assert.False((await HandleAsync(api, numbering)).Handled);
    }

    private static async Task<PostgresException> ErrorOfAsync(string connectionString, string sql, string? text = null)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        if (text is not null)
        {
            command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = text });
        }

        return await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
    }

    private static async Task<(bool Handled, int Status, string Body)> HandleAsync(TestApi api, Exception exception)
    {
        await using var scope = api.Hosts[0].Services.CreateAsyncScope();
        var http = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        http.Request.Method = "POST";
        http.Response.Body = new MemoryStream();
        var handler = scope.ServiceProvider.GetServices<IExceptionHandler>().OfType<ApiExceptionHandler>().Single();

        var handled = await handler.TryHandleAsync(http, exception, CancellationToken.None);

        http.Response.Body.Position = 0;
        return (handled, http.Response.StatusCode, await new StreamReader(http.Response.Body).ReadToEndAsync());
    }
}
