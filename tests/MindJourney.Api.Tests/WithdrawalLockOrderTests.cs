using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using MindJourney.Api.Admin;
using MindJourney.Api.Storage;
using MindJourney.Api.Withdrawal;
using MindJourney.Testing;
using Npgsql;

namespace MindJourney.Api.Tests;

/// <summary>A person's withdrawal and the delivery worker's completion of that person's objects lock the same rows
/// (answers, and their deliveries): both take the answers first, in id order, so neither waits for the other while
/// holding what the other needs, and PostgreSQL never aborts one of them as a deadlock's victim. The API runs without
/// storage (the texts stay pending) and the test runs the worker's completion itself, held at the other person's
/// answer by a lock of the test's own (as a slow moment of the machine would hold it), while the withdrawal runs
/// into it.</summary>
[Collection(PostgresCollection.Name)]
public sealed class WithdrawalLockOrderTests(PostgresServer postgres)
{
    [Fact]
    public async Task A_withdrawal_running_into_the_completion_of_the_persons_texts_succeeds_and_the_completion_finishes()
    {
        var logs = new FakeLogCollector();
        await using var api = await StartAsync(logs);
        var staying = await ApiCalls.StartSessionAsync(api);
        var leaving = await ApiCalls.StartSessionAsync(api);
        var kept = await ApiCalls.RecordTextAsync(api.Client, staying.Id, new { text = "I stay" });
        var mine = new[]
        {
            await ApiCalls.RecordTextAsync(api.Client, leaving.Id, new { text = "my first answer" }),
            await ApiCalls.RecordTextAsync(api.Client, leaving.Id, new { text = "my second answer" }),
        };
        Assert.Equal(3, await api.ScalarAsync<long>("SELECT count(*) FROM storage_deliveries"));

        // The round's objects are written; its completion is held at the other person's answer, the first by id.
        await using var holder = await HoldAsync(api, kept.Id);
        var completion = CompleteAsync(api, staying.VisitorNumber, kept.Id, mine[0].Id, mine[1].Id);
        await WaitForWaitersAsync(api, 1, completion);

        // The person withdraws meanwhile: it finishes, or waits for the completion (never the other way round).
        await WithdrawOnceBothWaitAsync(api, holder, leaving.UserId);

        // The completion finished too, and named the withdrawn person's answers as gone: their objects are deleted.
        var gone = await completion;
        Assert.Equal(mine.Select(m => m.Id).Order(), gone.Order());
        Assert.Equal("stored", await api.ScalarAsync<string>($"SELECT storage_status FROM experiment_responses WHERE id = '{kept.Id}'"));
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM storage_deliveries"));
        Assert.Equal(0, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses WHERE user_id = '{leaving.UserId}'"));
        Assert.Empty(DeadlockVictims(logs));
    }

    [Fact]
    public async Task A_withdrawal_locks_the_persons_answers_in_id_order_whatever_order_their_rows_are_in()
    {
        var logs = new FakeLogCollector();
        await using var api = await StartAsync(logs);
        var staying = await ApiCalls.StartSessionAsync(api);
        var leaving = await ApiCalls.StartSessionAsync(api);
        var early = await ApiCalls.RecordTextAsync(api.Client, leaving.Id, new { text = "begun first, recorded last" });
        var kept = await ApiCalls.RecordTextAsync(api.Client, staying.Id, new { text = "I stay" });
        var late = await ApiCalls.RecordTextAsync(api.Client, leaving.Id, new { text = "my second answer" });
        // As a long upload's answer has: its id from when it began, its row written after later ones. A DELETE alone
        // reaches it last.
        await api.ExecuteAsync($"UPDATE experiment_responses SET created_at = created_at + interval '1 hour' WHERE id = '{early.Id}'");

        // The completion locks the person's first answer, then is held at the other person's (the next by id).
        await using var holder = await HoldAsync(api, kept.Id);
        var completion = CompleteAsync(api, staying.VisitorNumber, early.Id, kept.Id, late.Id);
        await WaitForWaitersAsync(api, 1, completion);

        // The withdrawal waits for the completion at the person's first answer, holding none of theirs.
        await WithdrawOnceBothWaitAsync(api, holder, leaving.UserId);

        // The completion ran first and stored all three; the withdrawal then erased the person's (their objects go
        // with the withdrawal's listing of their folders). Neither was a deadlock's victim.
        Assert.Empty(await completion);
        Assert.Equal("stored", await api.ScalarAsync<string>($"SELECT storage_status FROM experiment_responses WHERE id = '{kept.Id}'"));
        Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM storage_deliveries"));
        Assert.Equal(0, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_responses WHERE user_id = '{leaving.UserId}'"));
        Assert.Empty(DeadlockVictims(logs));
    }

    private Task<TestApi> StartAsync(FakeLogCollector logs) => TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey,
        services: services => services.AddSingleton<ILoggerProvider>(new FakeLoggerProvider(logs)));

    /// <summary>A transaction of the test's own holding a share lock on the answer <paramref name="responseId"/>: the
    /// completion's lock on it waits until the test releases it.</summary>
    private static async Task<AnswerHold> HoldAsync(TestApi api, Guid responseId)
    {
        var connection = new NpgsqlConnection(api.ConnectionString);
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand(
            $"SELECT 1 FROM experiment_responses WHERE id = '{responseId}' FOR SHARE", connection, transaction);
        Assert.Equal(1, await command.ExecuteScalarAsync());
        return new AnswerHold(connection, transaction);
    }

    private sealed class AnswerHold(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
    {
        public Task ReleaseAsync() => transaction.RollbackAsync();

        public async ValueTask DisposeAsync()
        {
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
        }
    }

    /// <summary>The worker's completion of a round whose objects were written (the ids it answers are gone).</summary>
    private static Task<List<Guid>> CompleteAsync(TestApi api, int? number, params Guid[] responseIds) =>
        api.Hosts[0].Services.GetRequiredService<DeliveryOutbox>().CompleteManyAsync(
            [.. responseIds.Select(id => (id, number))], CancellationToken.None);

    private static async Task<HttpResponseMessage> AdminWithdrawAsync(TestApi api, Guid userId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/admin/users/{userId}/withdraw");
        request.Headers.Add(AdminKeyAuthenticationHandler.KeyHeader, AdminTests.AdminKey);
        return await api.Client.SendAsync(request);
    }

    /// <summary>Waits until <paramref name="count"/> statements of the test's database wait for a lock, or
    /// <paramref name="running"/> ended (it waited for nothing), or fails after 30 s.</summary>
    /// <summary>The person withdraws while the completion waits at the hold; once both wait, the hold is released, and
    /// the withdrawal must succeed (it finishes, or waits for the completion: never the other way round).</summary>
    private static async Task WithdrawOnceBothWaitAsync(TestApi api, AnswerHold holder, Guid userId)
    {
        var withdrawal = AdminWithdrawAsync(api, userId);
        await WaitForWaitersAsync(api, 2, withdrawal);
        await holder.ReleaseAsync();
        using var response = await withdrawal;
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    private static async Task WaitForWaitersAsync(TestApi api, int count, Task running)
    {
        var clock = Stopwatch.StartNew();
        while (!running.IsCompleted && await api.ScalarAsync<long>(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") < count)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"{count} statements did not wait for a lock within 30 s");
            await Task.Delay(20);
        }
    }

    /// <summary>The withdrawal's log lines saying PostgreSQL aborted it as a deadlock's victim (and it ran again).</summary>
    private static List<FakeLogRecord> DeadlockVictims(FakeLogCollector logs) => [.. logs.GetSnapshot().Where(r =>
        r.Category == typeof(PersonWithdrawal).FullName && r.Message.Contains("deadlock", StringComparison.Ordinal))];
}
