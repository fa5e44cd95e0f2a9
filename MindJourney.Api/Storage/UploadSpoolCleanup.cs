using Microsoft.Extensions.Options;

namespace MindJourney.Api.Storage;

/// <summary>At start, creates the spool folder if needed and removes the spool files a crashed process left behind
/// (a live upload's file is locked by its process and stays). A file written in the last minute stays too: another
/// replica sharing the folder creates its file before it locks it, and a file removed in between fails that upload
/// when it opens the file again by name (the fault suite's rolling restart met it as a 500).</summary>
public sealed partial class UploadSpoolCleanup(IOptions<StorageOptions> options, ILogger<UploadSpoolCleanup> logger) : IHostedService
{
    public const string FilePattern = "mindjourney-upload-*.tmp";

    /// <summary>Files younger than this may belong to another replica's upload that has not locked its file yet.</summary>
    public static readonly TimeSpan MinimumAge = TimeSpan.FromMinutes(1);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var folder = options.Value.SpoolFolder;
        Directory.CreateDirectory(folder);
        var removed = 0;
        foreach (var path in Directory.EnumerateFiles(folder, FilePattern))
        {
            try
            {
                if (DateTime.UtcNow - File.GetLastWriteTimeUtc(path) < MinimumAge)
                {
                    continue;
                }

                // An exclusive open fails while the upload's own process still has the file open.
                using (new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.None))
                {
                    File.Delete(path);
                }

                removed++;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // In use, or gone already.
            }
        }

        if (removed > 0)
        {
            LogRemoved(logger, removed);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Count} upload spool files left by an earlier process")]
    private static partial void LogRemoved(ILogger logger, int count);
}
