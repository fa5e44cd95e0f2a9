using System.CommandLine;
using Google.Cloud.Storage.V1;
using MindJourney.LoadTests.Ledger;

namespace MindJourney.LoadTests.Cli;

/// <summary><c>verify-ledger</c>: checks a <c>--ledger</c> file against the database and storage and prints what it
/// found, the last line a Markdown row (<see cref="LedgerReport.RowHeader"/>). Exit code 0 when nothing acknowledged is
/// lost or changed, no number is held twice and no file differs; 1 otherwise.</summary>
internal static class VerifyLedgerCommand
{
    public static Command Create(CliEnvironment env)
    {
        var ledger = new Option<string>("--ledger") { Description = "The ledger the run wrote.", HelpName = "file.jsonl", Required = true };
        var database = new Option<string>("--database")
        {
            Description = "Npgsql connection string of the API's database.",
            HelpName = "connection-string",
            Required = true,
        };
        var storage = new Option<string?>("--storage-emulator")
        {
            Description = "host:port of the storage emulator the API wrote to; without it files' bytes are not read back.",
            HelpName = "host:port",
        };
        var bucket = new Option<string?>("--bucket")
        {
            Description = "The bucket [default mindjourney-dev.appspot.com].",
            HelpName = "name",
        };
        var faultStart = new Option<long?>("--fault-start") { Description = "When the fault began (Unix ms).", HelpName = "ms" };
        var faultEnd = new Option<long?>("--fault-end") { Description = "When the fault ended (Unix ms).", HelpName = "ms" };
        var drain = new Option<double?>("--drain-seconds")
        {
            Description = "Seconds from the fault's end until no upload was pending, as measured by the caller (for the row).",
            HelpName = "s",
        };
        var label = new Option<string?>("--label") { Description = "The row's first cell [default the ledger's name].", HelpName = "text" };
        var command = new Command("verify-ledger",
            "Check a ledger (--ledger of a run) against the database and storage: every acknowledged session and answer found "
            + "with its numbers, no number twice, every file's bytes as sent; numbers burned, refusals, recovery.")
        {
            ledger, database, storage, bucket, faultStart, faultEnd, drain, label,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = parse.GetValue(ledger)!;
            if (!File.Exists(path))
            {
                await env.Error.WriteLineAsync($"error: no ledger at '{path}'").ConfigureAwait(false);
                return CliApp.ExitUsage;
            }

            var emulator = parse.GetValue(storage);
            var client = emulator is null ? null
                : new StorageClientBuilder { BaseUri = $"http://{emulator}/", UnauthenticatedAccess = true }.Build();
            var sources = new LedgerSources(parse.GetValue(database)!, client, parse.GetValue(bucket) ?? "mindjourney-dev.appspot.com");
            var report = await LedgerVerifier.VerifyAsync(LedgerWriter.Read(path), sources,
                new FaultWindow(parse.GetValue(faultStart), parse.GetValue(faultEnd)), cancellationToken).ConfigureAwait(false);
            await Print(env.Out, report, parse.GetValue(label) ?? Path.GetFileNameWithoutExtension(path), parse.GetValue(drain))
                .ConfigureAwait(false);
            return report.Passed ? CliApp.ExitPassed : CliApp.ExitFailed;
        });
        return command;
    }

    private static async Task Print(TextWriter output, LedgerReport r, string label, double? drain)
    {
        await output.WriteLineAsync(
            $"sessions: {r.SessionsAcknowledged} acknowledged, {r.SessionsFound} found; answers: {r.AnswersAcknowledged} "
            + $"acknowledged, {r.AnswersFound} found; lost {r.Lost}, numbers changed {r.NumbersChanged}, duplicates {r.Duplicates}")
            .ConfigureAwait(false);
        await output.WriteLineAsync(
            $"sequences: live {r.LiveSequence}, pilot {r.PilotSequence}; burned (live numbers nobody holds) {r.Burned}"
            + (r.Burned > 0 ? $": {r.BurnedRuns}" : "")).ConfigureAwait(false);
        var files = r.FilesChecked is { } c
            ? $"{c} read back ({r.FilesPending} still pending), {r.FilesDiffering} differing"
            : "not read back";
        await output.WriteLineAsync($"files: {files}; refused before the fault {r.RefusedBefore}").ConfigureAwait(false);
        foreach (var example in r.Examples)
        {
            await output.WriteLineAsync("  " + example).ConfigureAwait(false);
        }

        await output.WriteLineAsync(r.Row(label, drain)).ConfigureAwait(false);
    }
}
