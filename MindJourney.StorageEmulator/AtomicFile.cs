namespace MindJourney.StorageEmulator;

internal static class AtomicFile
{
    /// <summary>Writes a whole file so that readers (and a crash) see either the old or the new content.</summary>
    public static void Write(string path, byte[] content, string tempDir) => Publish(Stage(content, tempDir), path);

    /// <summary>The slow half of <see cref="Write"/>: the content on disk (flushed) under a temporary name, which
    /// <see cref="Publish"/> then gives its real one. A caller that serialises its writes does this half outside its
    /// lock, so one write's flush never holds up the others.</summary>
    public static string Stage(byte[] content, string tempDir)
    {
        var temp = Path.Combine(tempDir, Guid.NewGuid().ToString("N") + ".tmp");
        using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        stream.Write(content);
        stream.Flush(flushToDisk: true);
        return temp;
    }

    /// <summary>Gives a staged file its real name (a rename: atomic, and quick).</summary>
    public static void Publish(string staged, string path) => File.Move(staged, path, overwrite: true);

    /// <summary>Drops a staged file that will not be published.</summary>
    public static void Discard(string? staged)
    {
        if (staged is not null)
        {
            File.Delete(staged);
        }
    }
}
