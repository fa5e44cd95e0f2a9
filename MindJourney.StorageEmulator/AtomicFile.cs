namespace MindJourney.StorageEmulator;

internal static class AtomicFile
{
    /// <summary>Writes a whole file so that readers (and a crash) see either the old or the new content.</summary>
    public static void Write(string path, byte[] content, string tempDir)
    {
        var temp = Path.Combine(tempDir, Guid.NewGuid().ToString("N") + ".tmp");
        using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }
}
