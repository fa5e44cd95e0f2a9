using System.Diagnostics;
using MindJourney.LoadTests.Ledger;
using MindJourney.LoadTests.Options;
using MindJourney.LoadTests.Runner;
using MindJourney.Testing;
using Npgsql;

namespace MindJourney.LoadTests.Tests;

/// <summary>
/// The short version of the fault suite (benchmarks/faults.sh, docs/RELIABILITY.md) that CI runs: the harness writes a
/// ledger of every acknowledged write while a part dies and comes back, and the checker must find every one of them,
/// with no number held twice. The fault must have been felt (requests refused), or the test proves nothing.
/// </summary>
public sealed class FaultTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mj-faults-").FullName;

    /// <summary>Scenario 1, short: PostgreSQL SIGKILLed (with its backends) 3 s into 12 s of Play, started again on the
    /// same data 3 s later.</summary>
    [Fact]
    public async Task PostgreSQL_killed_under_Play_and_started_again_loses_no_acknowledged_session_and_gives_no_number_twice()
    {
        await using var postgres = PostgresServer.Durable();
        await postgres.InitializeAsync();
        await using var api = await TestApi.StartAsync(postgres);
        var ledgerPath = Path.Combine(_folder, "postgres-kill.jsonl");
        var run = LoadTestRunner.RunAsync(Options(api, ScenarioKind.Session, ledgerPath));

        await Task.Delay(TimeSpan.FromSeconds(3));
        var faultStart = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await postgres.KillAsync();
        await Task.Delay(TimeSpan.FromSeconds(3));
        await postgres.StartAgainAsync();
        var faultEnd = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await run;

        var report = await LedgerVerifier.VerifyAsync(LedgerWriter.Read(ledgerPath), new LedgerSources(api.ConnectionString),
            new FaultWindow(faultStart, faultEnd));

        Assert.True(report.Refused.Values.Sum() > 0, "no request was refused: the fault was not felt");
        Assert.True(report.FirstSuccessSeconds is not null, "nothing was acknowledged after PostgreSQL came back");
        Assert.True(report.SessionsAcknowledged > 0);
        Assert.Equal(0, report.Lost);
        Assert.Equal(0, report.Duplicates);
        Assert.True(report.Passed, string.Join("; ", report.Examples));
    }

    /// <summary>Scenario 4, short: the storage emulator stopped 3 s into 12 s of journeys with uploads, started again on
    /// the same port and objects 3 s later; the uploads it missed drain, with the bytes sent.</summary>
    [Fact]
    public async Task Storage_down_under_journeys_loses_no_acknowledged_answer_and_every_file_arrives_as_sent()
    {
        await using var postgres = PostgresServer.Durable();
        await postgres.InitializeAsync();
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, storage: storage);
        var ledgerPath = Path.Combine(_folder, "storage-down.jsonl");
        var run = LoadTestRunner.RunAsync(Options(api, ScenarioKind.Journey, ledgerPath));

        await Task.Delay(TimeSpan.FromSeconds(3));
        var faultStart = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await storage.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(3));
        await storage.StartAgainAsync();
        var faultEnd = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await run;
        var drained = await DrainedAsync(api.ConnectionString, TimeSpan.FromSeconds(60));

        var report = await LedgerVerifier.VerifyAsync(LedgerWriter.Read(ledgerPath),
            new LedgerSources(api.ConnectionString, storage.Client, TestStorage.Bucket), new FaultWindow(faultStart, faultEnd));

        Assert.True(drained, "uploads still pending a minute after the run");
        Assert.True(report.AnswersAcknowledged > 0 && report.FilesChecked > 0);
        Assert.Equal(0, report.Lost);
        Assert.Equal(0, report.Duplicates);
        Assert.Equal(0, report.FilesDiffering);
        Assert.True(report.Passed, string.Join("; ", report.Examples));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static LoadTestOptions Options(TestApi api, ScenarioKind scenario, string ledger) => new()
    {
        ApiUrl = new Uri(api.Hosts[0].ServerAddress, "/api"),
        Users = 8,
        Duration = TimeSpan.FromSeconds(12),
        Scenario = scenario,
        Quiet = true,
        Ledger = ledger,
    };

    private static async Task<bool> DrainedAsync(string connectionString, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        await using var source = NpgsqlDataSource.Create(connectionString);
        while (clock.Elapsed < within)
        {
            await using var command = source.CreateCommand("SELECT count(*) FROM storage_deliveries");
            if ((long)(await command.ExecuteScalarAsync())! == 0)
            {
                return true;
            }

            await Task.Delay(200);
        }

        return false;
    }
}
