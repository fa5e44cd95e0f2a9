using System.Diagnostics;
using System.Net;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>The spool folder (MindJourney:Storage:SpoolPath) running out of space is the server's fault, and what a
/// crashed process left in it is cleared at start.</summary>
[Collection(PostgresCollection.Name)]
public sealed class UploadSpoolTests(PostgresServer postgres)
{
    [Fact]
    public async Task A_full_spool_disk_answers_507_with_retry_after_and_saves_nothing()
    {
        var folder = Directory.CreateTempSubdirectory("mindjourney-spool-").FullName;
        await RunAsync("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", folder);
        try
        {
            await using var api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?>
            {
                ["MindJourney:Storage:SpoolPath"] = folder,
            });
            var sessionId = (await Uploads.NewSessionAsync(api)).Id;
            var before = await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses");

            using var response = await api.Client.PostAsync("/api/response",
                Uploads.Multipart(Uploads.Fields(sessionId, "video"), Uploads.RandomBytes(3 * 1024 * 1024, seed: 31)));

            Assert.Equal(TimeSpan.FromSeconds(30), response.Headers.RetryAfter?.Delta);
            await StarvationTests.AssertProblemAsync(response, HttpStatusCode.InsufficientStorage, "no room");
            Assert.Equal(before, await api.ScalarAsync<long>("SELECT count(*) FROM experiment_responses"));
            Assert.Equal(0, await api.ScalarAsync<long>("SELECT count(*) FROM storage_deliveries"));
            Assert.Empty(Directory.EnumerateFiles(folder));

            // A file that fits still goes through the same folder.
            await Uploads.PostCreatedAsync(api.Client,
                Uploads.Multipart(Uploads.Fields(sessionId, "video"), Uploads.RandomBytes(100_000, seed: 32)));
        }
        finally
        {
            await RunAsync("umount", folder);
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Spool_files_left_by_a_crash_are_removed_at_start_and_live_and_fresh_ones_are_kept()
    {
        var folder = Directory.CreateTempSubdirectory("mindjourney-spool-").FullName;
        try
        {
            var leftover = Path.Combine(folder, $"mindjourney-upload-{Guid.NewGuid():N}.tmp");
            var live = Path.Combine(folder, $"mindjourney-upload-{Guid.NewGuid():N}.tmp");
            var unrelated = Path.Combine(folder, "notes.tmp");
            // Another replica's file, just created and not yet locked: too young to be a crash's.
            var fresh = Path.Combine(folder, $"mindjourney-upload-{Guid.NewGuid():N}.tmp");
            await File.WriteAllBytesAsync(leftover, new byte[1000]);
            File.SetLastWriteTimeUtc(leftover, DateTime.UtcNow - TimeSpan.FromMinutes(2));
            await File.WriteAllBytesAsync(fresh, new byte[1000]);
            await File.WriteAllBytesAsync(unrelated, new byte[10]);

            // Open as an upload in progress opens its spool file (another replica sharing the folder).
            await using (var upload = new FileStream(live, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete))
            {
                await using var api = await TestApi.StartAsync(postgres, settings: new Dictionary<string, string?>
                {
                    ["MindJourney:Storage:SpoolPath"] = folder,
                });

                Assert.False(File.Exists(leftover), "the crash's spool file is still there");
                Assert.True(File.Exists(live), "a live upload's spool file was removed");
                Assert.True(File.Exists(fresh), "a spool file written a moment ago was removed");
                Assert.True(File.Exists(unrelated), "a file the API did not write was removed");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task RunAsync(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true })!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{program} failed ({process.ExitCode}): {error}");
    }
}
