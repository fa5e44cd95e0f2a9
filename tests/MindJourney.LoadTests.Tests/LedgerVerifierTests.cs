using MindJourney.LoadTests.Ledger;
using MindJourney.LoadTests.Options;
using MindJourney.LoadTests.Runner;
using MindJourney.Testing;

namespace MindJourney.LoadTests.Tests;

/// <summary>The ledger against the real API, PostgreSQL and storage emulator: a run's ledger checks clean, and the
/// checker fails a ledger that claims what the system does not hold.</summary>
public sealed class LedgerVerifierTests(PostgresServer postgres) : IClassFixture<PostgresServer>, IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mj-ledger-").FullName;

    [Fact]
    public async Task A_journey_ledger_is_found_whole_and_a_missing_or_altered_entry_is_reported()
    {
        await using var storage = await TestStorage.StartAsync();
        await using var api = await TestApi.StartAsync(postgres, storage: storage);
        var path = Path.Combine(_folder, "run.jsonl");
        var result = await LoadTestRunner.RunAsync(new LoadTestOptions
        {
            ApiUrl = new Uri(api.Hosts[0].ServerAddress, "/api"),
            Users = 4,
            Duration = TimeSpan.FromSeconds(3),
            Scenario = ScenarioKind.Journey,
            Quiet = true,
            Ledger = path,
        });
        Assert.Null(result.FatalError);
        var ledger = LedgerWriter.Read(path);
        var sources = new LedgerSources(api.ConnectionString, storage.Client, TestStorage.Bucket);

        var clean = await LedgerVerifier.VerifyAsync(ledger, sources, default);

        Assert.True(clean.Passed, string.Join("; ", clean.Examples));
        Assert.Equal(result.Totals.SessionsCreated, clean.SessionsAcknowledged);
        Assert.Equal(await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"), clean.AnswersFound);
        Assert.True(clean.FilesChecked > 0);
        Assert.Equal(0, clean.Burned);

        // The ledger claims a session nobody stored, under a number someone holds, and an upload's bytes differ.
        var session = ledger.First(e => e.Kind == LedgerEntry.SessionKind);
        var upload = ledger.First(e => e.Md5 is not null);
        var tampered = ledger.Where(e => e != upload)
            .Append(session with { Id = Guid.NewGuid() })
            .Append(upload with { Md5 = Convert.ToBase64String(new byte[16]) })
            .ToList();
        await api.ExecuteAsync("SELECT nextval('visitor_counter_sequence')");

        var report = await LedgerVerifier.VerifyAsync(tampered, sources, default);

        Assert.False(report.Passed);
        Assert.Equal(1, report.Lost);
        Assert.Equal(1, report.Duplicates);
        Assert.Equal(1, report.FilesDiffering);
        Assert.Equal(1, report.Burned);
        Assert.Equal($"{clean.LiveSequence + 1}", report.BurnedRuns);
        Assert.Contains(report.Examples, e => e.Contains("acknowledged but not found", StringComparison.Ordinal));
        Assert.Contains("| tampered | ", report.Row("tampered", null), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refusals_are_counted_from_the_fault_on_and_recovery_from_its_end()
    {
        var refused = new LedgerEntry { Kind = LedgerEntry.RefusedKind, Request = "POST /api/session", Status = "503" };
        LedgerEntry[] ledger =
        [
            refused with { At = 900, Status = "500" },
            refused with { At = 1_000 },
            refused with { At = 1_500, Status = "timeout", Ms = 30_000 },
            new LedgerEntry { Kind = LedgerEntry.SessionKind, At = 4_250, Id = null },
        ];
        await using var api = await TestApi.StartAsync(postgres);

        var report = await LedgerVerifier.VerifyAsync(ledger, new LedgerSources(api.ConnectionString), new FaultWindow(1_000, 2_000));

        Assert.Equal(new Dictionary<string, int> { ["503"] = 1, ["timeout"] = 1 }, report.Refused);
        Assert.Equal(1, report.RefusedBefore);
        Assert.Equal(2.25, report.FirstSuccessSeconds);
        Assert.Equal(30, report.LongestRequestSeconds);
        Assert.Null(report.FilesDiffering);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
