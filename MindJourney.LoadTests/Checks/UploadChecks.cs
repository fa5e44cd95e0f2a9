using System.Globalization;
using MindJourney.LoadTests.Runner;
using MindJourney.LoadTests.Scenarios;

namespace MindJourney.LoadTests.Checks;

/// <summary>Check 5: uploads reached storage under the right session, and (with a key) download as sent.</summary>
public static class UploadChecks
{
    /// <summary>An evenly spread sample of at most <paramref name="size"/> uploads.</summary>
    public static IReadOnlyList<UploadRecord> Sample(IReadOnlyList<UploadRecord> uploads, int size)
    {
        ArgumentNullException.ThrowIfNull(uploads);
        if (size <= 0 || uploads.Count == 0)
        {
            return [];
        }

        if (uploads.Count <= size)
        {
            return uploads;
        }

        var step = uploads.Count / (double)size;
        return Enumerable.Range(0, size).Select(i => uploads[(int)(i * step)]).ToArray();
    }

    /// <summary>5a: each sampled upload has a storage object name that names its session, and carries its session's number.</summary>
    public static CheckResult Stored(IReadOnlyList<UploadRecord> sample, int totalUploads)
    {
        ArgumentNullException.ThrowIfNull(sample);
        const string name = CheckNames.UploadsStored;
        if (sample.Count == 0)
        {
            return CheckResult.Fail(name, "no upload succeeded in the run, so nothing was checked");
        }

        var problems = new List<string>();
        var pending = 0;
        foreach (var u in sample)
        {
            if (string.IsNullOrEmpty(u.ObjectName))
            {
                problems.Add($"response {u.ResponseId}: no storage.objectName (status {u.StorageStatus ?? "missing"})");
            }
            else if (!u.ObjectName.Contains($"session-{u.SessionId:D}", StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"response {u.ResponseId}: object '{u.ObjectName}' does not name session {u.SessionId}");
            }

            if (u.ResponseNumber != u.SessionNumber)
            {
                problems.Add($"response {u.ResponseId}: visitor number {u.ResponseNumber?.ToString(CultureInfo.InvariantCulture) ?? "null"}"
                    + $" but session has {u.SessionNumber?.ToString(CultureInfo.InvariantCulture) ?? "null"}");
            }

            if (string.Equals(u.StorageStatus, "pending", StringComparison.OrdinalIgnoreCase))
            {
                pending++;
            }
        }

        var detail = string.Create(
            CultureInfo.InvariantCulture,
            $"{sample.Count} of {totalUploads} uploads sampled, {sample.Count - problems.Count} fine, {pending} still pending in storage");
        if (problems.Count > 0)
        {
            detail += "; " + string.Join("; ", problems.Take(5));
        }

        return problems.Count == 0 ? CheckResult.Pass(name, detail) : CheckResult.Fail(name, detail);
    }

    /// <summary>5b: GET /api/download/{responseId} returns the bytes sent (needs the admin key).</summary>
    internal static async Task<CheckResult> DownloadMatchAsync(HttpClient http, string apiBase, IReadOnlyList<UploadRecord> sample,
        string? adminKey, TimeSpan timeout, CancellationToken cancellationToken)
    {
        const string name = CheckNames.UploadsDownloadMatch;
        if (adminKey is null)
        {
            return CheckResult.Skip(name, "needs --admin-key (or ADMIN_API_KEY) to download stored objects");
        }

        var stored = sample.Where(u => !string.Equals(u.StorageStatus, "pending", StringComparison.OrdinalIgnoreCase)).ToList();
        if (sample.Count == 0)
        {
            return CheckResult.Fail(name, "no upload succeeded in the run, so nothing was downloaded");
        }

        if (stored.Count == 0)
        {
            return CheckResult.Skip(name, $"all {sample.Count} sampled uploads are still pending in storage");
        }

        var problems = new List<string>();
        foreach (var u in stored)
        {
            var (bytes, error) = await AdminClient.DownloadAsync(http, apiBase, u.ResponseId, adminKey, timeout, cancellationToken)
                .ConfigureAwait(false);
            if (bytes is null)
            {
                problems.Add($"response {u.ResponseId}: download {error}");
            }
            else if (!bytes.AsSpan().SequenceEqual(VoicePayload.Create(u.Ordinal, u.PayloadLength)))
            {
                problems.Add($"response {u.ResponseId}: downloaded {bytes.Length} bytes that differ from the {u.PayloadLength} sent");
            }
        }

        var detail = string.Create(
            CultureInfo.InvariantCulture,
            $"{stored.Count} stored uploads downloaded, {stored.Count - problems.Count} byte-identical");
        if (sample.Count > stored.Count)
        {
            detail += string.Create(CultureInfo.InvariantCulture, $" ({sample.Count - stored.Count} pending, not downloaded)");
        }

        if (problems.Count > 0)
        {
            detail += "; " + string.Join("; ", problems.Take(5));
        }

        return problems.Count == 0 ? CheckResult.Pass(name, detail) : CheckResult.Fail(name, detail);
    }
}
