namespace MindJourney.Api.Storage;

/// <summary>The spool folder could not take an upload (disk full, or not writable): the server's fault, never
/// the client's.</summary>
public sealed class UploadSpoolException(bool diskFull, Exception inner)
    : Exception(diskFull ? "No space left for the upload's temporary file." : "Could not keep the upload in a temporary file.", inner)
{
    public bool DiskFull { get; } = diskFull;
}
