using System.Security.Cryptography;
using System.Text.Json;

namespace MindJourney.LoadTests.Ledger;

/// <summary>
/// Writes a ledger (<c>--ledger FILE</c>) as JSON Lines: every session and answer the API acknowledged, and every
/// request it refused, one line each, flushed to the file as it is known, so a fault that ends the harness early
/// still leaves every acknowledgement it saw. <c>verify-ledger</c> checks the database and storage against it.
/// </summary>
internal sealed class LedgerWriter : IDisposable
{
    private readonly Lock _lock = new();
    private readonly StreamWriter _writer;

    private LedgerWriter(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read));
    }

    /// <summary>A writer appending to <paramref name="path"/>, or null when there is no ledger.</summary>
    public static LedgerWriter? Open(string? path) => string.IsNullOrEmpty(path) ? null : new LedgerWriter(path);

    public void Session(Guid id, int? visitorNumber, int? studyParticipantNumber, string? mode, double ms) => Write(new LedgerEntry
    {
        Kind = LedgerEntry.SessionKind,
        Id = id,
        VisitorNumber = visitorNumber,
        StudyParticipantNumber = studyParticipantNumber,
        Mode = mode,
        Ms = ms,
    });

    /// <summary>An acknowledged answer; <paramref name="file"/> is the file it carried (null for a text answer).</summary>
    public void Answer(Guid id, Guid session, string type, byte[]? file, double ms) => Write(new LedgerEntry
    {
        Kind = LedgerEntry.AnswerKind,
        Id = id,
        Session = session,
        Type = type,
        Size = file?.Length,
        Md5 = file is null ? null : Convert.ToBase64String(MD5.HashData(file)),
        Ms = ms,
    });

    public void Refused(string request, string status, double ms) => Write(new LedgerEntry
    {
        Kind = LedgerEntry.RefusedKind,
        Request = request,
        Status = status,
        Ms = ms,
    });

    private void Write(LedgerEntry entry)
    {
        var line = JsonSerializer.Serialize(
            entry with { At = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() }, LedgerJson.Default.LedgerEntry);
        lock (_lock)
        {
            _writer.WriteLine(line);
            _writer.Flush();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _writer.Dispose();
        }
    }

    /// <summary>Reads a ledger back; a line cut short by a harness that was killed mid-write is skipped.</summary>
    public static List<LedgerEntry> Read(string path)
    {
        var entries = new List<LedgerEntry>();
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                if (JsonSerializer.Deserialize(line, LedgerJson.Default.LedgerEntry) is { } entry)
                {
                    entries.Add(entry);
                }
            }
            catch (JsonException)
            {
                // the last line of a killed harness
            }
        }

        return entries;
    }
}
