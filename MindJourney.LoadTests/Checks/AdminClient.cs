using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using MindJourney.LoadTests.Runner;

namespace MindJourney.LoadTests.Checks;

/// <summary>Client of the admin routes the checks read. The key goes in the X-Admin-Key header and nowhere else.</summary>
internal static class AdminClient
{
    public const string KeyHeader = "X-Admin-Key";

    /// <summary>GET {api}/admin/visitor-numbers/audit → the snapshot, or why not.</summary>
    public static async Task<(AuditSnapshot? Snapshot, string? Error)> GetAuditAsync(HttpClient http, string apiBase, string adminKey,
        TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        using var request = new HttpRequestMessage(HttpMethod.Get, apiBase + "/admin/visitor-numbers/audit");
        request.Headers.TryAddWithoutValidation(KeyHeader, adminKey);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        try
        {
            using var response = await http.SendAsync(request, cts.Token).ConfigureAwait(false);
            var body = await response.Content.ReadAsByteArrayAsync(cts.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return (null, $"GET /admin/visitor-numbers/audit answered {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            return (AuditSnapshot.Parse(body), null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, "GET /admin/visitor-numbers/audit timed out");
        }
        catch (Exception e) when (e is HttpRequestException or System.Text.Json.JsonException or IOException)
        {
            return (null, $"GET /admin/visitor-numbers/audit failed: {e.Message}");
        }
    }

    /// <summary>GET {api}/admin/experiments/{id} → the study's cap and people, or why not.</summary>
    public static async Task<(StudySnapshot? Study, string? Error)> GetStudyAsync(HttpClient http, string apiBase, string adminKey,
        Guid studyId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{apiBase}/admin/experiments/{studyId:D}");
        request.Headers.TryAddWithoutValidation(KeyHeader, adminKey);
        try
        {
            using var response = await http.SendAsync(request, cts.Token).ConfigureAwait(false);
            var body = await response.Content.ReadAsByteArrayAsync(cts.Token).ConfigureAwait(false);
            return response.IsSuccessStatusCode
                ? (StudySnapshot.Parse(body), null)
                : (null, $"GET /admin/experiments/{studyId:D} answered {(int)response.StatusCode} {response.ReasonPhrase}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"GET /admin/experiments/{studyId:D} timed out");
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or IOException or InvalidOperationException
            or FormatException)
        {
            return (null, $"GET /admin/experiments/{studyId:D} failed: {e.Message}");
        }
    }

    /// <summary>GET {api}/admin/export?format=jsonl (live sessions, numbers <paramref name="from"/> to
    /// <paramref name="to"/> when given) → every stored answer, or why not. Rows of sessions without an answer are
    /// skipped.</summary>
    public static async Task<(List<StoredAnswer>? Answers, string? Error)> ExportAnswersAsync(HttpClient http, string apiBase,
        string adminKey, int? from, int? to, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var range = from is { } f && to is { } t ? string.Create(CultureInfo.InvariantCulture, $"&from={f}&to={t}") : "";
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{apiBase}/admin/export?format=jsonl&mode=live{range}");
        request.Headers.TryAddWithoutValidation(KeyHeader, adminKey);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return (null, $"GET /admin/export answered {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            var answers = new List<StoredAnswer>();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token).ConfigureAwait(false));
            while (await reader.ReadLineAsync(cts.Token).ConfigureAwait(false) is { } line)
            {
                if (ParseExportLine(line) is { } answer)
                {
                    answers.Add(answer);
                }
            }

            return (answers, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, "GET /admin/export timed out");
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or IOException or FormatException
            or KeyNotFoundException or InvalidOperationException)
        {
            return (null, $"GET /admin/export failed: {e.Message}");
        }
    }

    /// <summary>One JSON Lines row of the export: the answer's marker, or null for a session without an answer.</summary>
    public static StoredAnswer? ParseExportLine(string line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return null;
        }

        using var row = JsonDocument.Parse(line);
        var r = row.RootElement;
        if (!r.TryGetProperty("responseId", out var id) || id.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        return new StoredAnswer(
            new AnswerMarker(r.GetProperty("sessionId").GetGuid(), Text(r, "levelId"), Text(r, "questionId"), Text(r, "responseType")),
            id.GetGuid());

        static string Text(JsonElement row, string name) => row.GetProperty(name).GetString() ?? "";
    }

    /// <summary>GET {api}/download/{responseId} → the bytes, or why not.</summary>
    public static async Task<(byte[]? Bytes, string? Error)> DownloadAsync(HttpClient http, string apiBase, Guid responseId,
        string? adminKey, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{apiBase}/download/{responseId:D}");
        if (adminKey is not null)
        {
            request.Headers.TryAddWithoutValidation(KeyHeader, adminKey);
        }

        try
        {
            using var response = await http.SendAsync(request, cts.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return (null, $"answered {(int)response.StatusCode}");
            }

            return (await response.Content.ReadAsByteArrayAsync(cts.Token).ConfigureAwait(false), null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, "timed out");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return (null, e.Message);
        }
    }
}
