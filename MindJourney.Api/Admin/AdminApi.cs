using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MindJourney.Api.Infrastructure;

namespace MindJourney.Api.Admin;

public static class AdminApi
{
    /// <summary>The participant list's search by the id a panel sent (personal data: a header, never the URL).</summary>
    public const string ParticipantIdHeader = "X-Participant-Id";

    /// <summary>Maps on the admin group (<see cref="AdminRoutes.MapAdminGroup"/>), which carries the key and the rules.</summary>
    public static RouteGroupBuilder MapAdminApi(this RouteGroupBuilder api)
    {
        api.MapPost("/assign-visitor-numbers", AssignVisitorNumbers)
            .WithName("AssignVisitorNumbers")
            .WithSummary("Number every user and session still without a visitor number, oldest first");
        api.MapGet("/visitor-numbers/audit", Audit)
            .WithName("AuditVisitorNumbers")
            .WithSummary("Duplicates, gaps, mismatches and pending uploads");
        api.MapGet("/visitor-numbers/health", NumberingHealth)
            .WithName("VisitorNumberingHealth")
            .WithSummary("The numbering health check's status with its reason (/health says only the status)");
        api.MapGet("/participants", ListParticipants)
            .WithName("ListParticipants")
            .WithSummary("Sessions newest first, a page at a time (next page in the Link header): number, progress, answers");
        api.MapGet("/actions", ListActions)
            .WithName("ListAdminActions")
            .WithSummary("What researchers did (recoveries, exports), newest first, by key fingerprint");

        return api;
    }

    public static async Task<Ok<RecoveryResult>> AssignVisitorNumbers(
        VisitorNumberRecovery recovery, AdminActionLog actions, ClaimsPrincipal admin, CancellationToken cancellationToken)
    {
        var result = await recovery.RecoverAsync(cancellationToken);
        await actions.RecordAsync(admin, AdminActionLog.Recovery, result, ApiJsonContext.Default.RecoveryResult);
        return TypedResults.Ok(result);
    }

    public static async Task<Ok<AuditReport>> Audit(VisitorNumberAudit audit, CancellationToken cancellationToken) =>
        TypedResults.Ok(await audit.RunAsync(cancellationToken));

    public static async Task<Ok<NumberingHealthReport>> NumberingHealth(HealthCheckService health, CancellationToken cancellationToken) =>
        TypedResults.Ok(await NumberingHealthCheck.ReportAsync(health, cancellationToken));

    /// <summary>One page of sessions, newest first (the body stays a JSON array); when more follow, a
    /// <c>Link: &lt;…?before={last session id}&gt;; rel="next"</c> header points at the next page.</summary>
    public static async Task<Ok<List<ParticipantRow>>> ListParticipants(
        [Range(1, ParticipantList.MaxPage, ErrorMessage = "limit must be between {1} and {2}.")] int? limit, Guid? before,
        Guid? experimentId, HttpContext http, ParticipantList participants, CancellationToken cancellationToken,
        [Range(1, int.MaxValue, ErrorMessage = "visitorNumber must be a visitor number.")] int? visitorNumber = null,
        [FromHeader(Name = ParticipantIdHeader), StringLength(128, ErrorMessage = "The participant id is longer than {1} characters.")]
        string? participantId = null)
    {
        var pageSize = limit ?? ParticipantList.DefaultPage;
        var rows = await participants.PageAsync(pageSize + 1, before, experimentId, cancellationToken, visitorNumber, participantId);
        if (rows.Count > pageSize)
        {
            rows.RemoveAt(pageSize);
            // A panel id is personal data: never in a URL (the next page is asked with the header again).
            var study = (experimentId is { } id ? $"&experimentId={id}" : "")
                + (visitorNumber is { } number ? $"&visitorNumber={number}" : "");
            http.Response.Headers.Link =
                $"</api/admin/participants?limit={pageSize}&before={rows[^1].SessionId}{study}>; rel=\"next\"";
        }

        return TypedResults.Ok(rows);
    }

    public static async Task<Ok<IReadOnlyList<AdminActionEntry>>> ListActions(
        [Range(1, AdminActionLog.MaxListed, ErrorMessage = "limit must be between {1} and {2}.")] int? limit, AdminActionLog actions,
        CancellationToken cancellationToken) =>
        TypedResults.Ok(await actions.ListAsync(limit ?? AdminActionLog.DefaultListed, cancellationToken));
}
