using System.Net.Http.Headers;

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
