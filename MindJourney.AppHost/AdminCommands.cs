using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace MindJourney.AppHost;

/// <summary>
/// The admin audit and recovery as buttons on the API in the dashboard, sent with the admin key the AppHost holds.
/// The key goes only into the request's header: nothing here logs the request, and Aspire's HTTP client logs no
/// header values.
/// </summary>
internal static class AdminCommands
{
    public const string AuditCommand = "audit-visitor-numbers";
    public const string RecoverCommand = "recover-visitor-numbers";
    internal const string AdminKeyHeader = "X-Admin-Key";

    /// <summary>Assignments listed in a recovery's result; the count says how many there were in all.</summary>
    private const int AssignmentsShown = 20;

    public static IResourceBuilder<ProjectResource> WithAdminCommands(this IResourceBuilder<ProjectResource> api,
        IResourceBuilder<ParameterResource> adminApiKey)
    {
        Func<HttpCommandRequestContext, Task> withAdminKey = async context =>
            context.Request.Headers.Add(AdminKeyHeader, await adminApiKey.Resource.GetValueAsync(context.CancellationToken));

        api.WithHttpCommand("/api/admin/visitor-numbers/audit", "Audit visitor numbers", commandName: AuditCommand,
            commandOptions: new HttpCommandOptions
            {
                Method = HttpMethod.Get,
                Description = "Sequence position, numbers held twice, gaps, mismatched sessions and responses, pending uploads",
                IconName = "ClipboardTaskListLtr",
                PrepareRequest = withAdminKey,
                GetCommandResult = context => ReadAsync(context, SummariseAudit),
            });

        api.WithHttpCommand("/api/admin/assign-visitor-numbers", "Recover visitor numbers", commandName: RecoverCommand,
            commandOptions: new HttpCommandOptions
            {
                Method = HttpMethod.Post,
                Description = "Number every user and session still without a visitor number (the fallbacks), oldest first",
                IconName = "ArrowRepeatAll",
                ConfirmationMessage = "Give every user and session still without a visitor number the next numbers, oldest session " +
                    "first? Their responses and stored files follow. Safe to run twice.",
                PrepareRequest = withAdminKey,
                GetCommandResult = context => ReadAsync(context, SummariseRecovery),
            });

        return api;
    }

    private static async Task<ExecuteCommandResult> ReadAsync(HttpCommandResultContext context,
        Func<JsonElement, (string Message, string Details)> summarise)
    {
        var response = context.Response;
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(context.CancellationToken);
            return CommandResults.Failure($"The API answered {(int)response.StatusCode} {response.ReasonPhrase}.", body);
        }

        var (message, details) = summarise(await response.Content.ReadFromJsonAsync<JsonElement>(context.CancellationToken));
        return CommandResults.Success(message, details, CommandResultFormat.Markdown, displayImmediately: true);
    }

    private static (string, string) SummariseAudit(JsonElement audit)
    {
        long Count(string name) => audit.GetProperty(name).GetInt64();
        var duplicates = audit.GetProperty("duplicates").GetArrayLength();
        var gaps = audit.GetProperty("gaps").GetArrayLength();
        var gapsShown = audit.GetProperty("gapsTruncated").GetBoolean() ? $"{gaps}+" : Text(gaps);
        var message = string.Create(CultureInfo.InvariantCulture,
            $"Sequence at {Count("sequenceLastValue")}: {duplicates} duplicates, {gapsShown} gaps, " +
            $"{Count("mismatchedSessions")} mismatched sessions, {Count("mismatchedResponses")} mismatched responses, " +
            $"{Count("unnumberedSessions")} sessions without a number, {Count("pendingUploads")} pending uploads.");

        var details = new StringBuilder("| | |\n|---|---|\n");
        foreach (var (label, name) in new[]
                 {
                     ("Sequence position", "sequenceLastValue"), ("Users", "users"), ("Users with a number", "numberedUsers"),
                     ("Sessions without a number", "unnumberedSessions"), ("Mismatched sessions", "mismatchedSessions"),
                     ("Mismatched responses", "mismatchedResponses"), ("Pending uploads", "pendingUploads"),
                     ("Rejected uploads", "rejectedUploads"),
                 })
        {
            details.Append(CultureInfo.InvariantCulture, $"| {label} | {Count(name)} |\n");
        }

        details.Append(CultureInfo.InvariantCulture, $"| Numbers held twice | {Join(audit.GetProperty("duplicates"), d =>
            $"#{d.GetProperty("visitorNumber").GetInt32()} ({d.GetProperty("users").GetInt64()} users)")} |\n");
        details.Append(CultureInfo.InvariantCulture, $"| Gaps | {Join(audit.GetProperty("gaps"), g =>
            $"{g.GetProperty("from").GetInt64()}–{g.GetProperty("to").GetInt64()}")} |\n");
        return (message, details.ToString());
    }

    private static (string, string) SummariseRecovery(JsonElement recovery)
    {
        int Count(string name) => recovery.GetProperty(name).GetInt32();
        var assignments = recovery.GetProperty("assignments");
        var message = string.Create(CultureInfo.InvariantCulture,
            $"Handed out {Count("numbersAssigned")} numbers; {assignments.GetArrayLength()} sessions numbered, " +
            $"{Count("responsesUpdated")} responses and {Count("objectsUpdated")} stored objects updated.");

        var details = new StringBuilder("| session | user | visitor number |\n|---|---|---|\n");
        foreach (var assignment in assignments.EnumerateArray().Take(AssignmentsShown))
        {
            details.Append(CultureInfo.InvariantCulture, $"| {assignment.GetProperty("sessionId").GetGuid()} | " +
                $"{assignment.GetProperty("userId").GetGuid()} | #{assignment.GetProperty("visitorNumber").GetInt32()} |\n");
        }

        if (assignments.GetArrayLength() > AssignmentsShown)
        {
            details.Append(CultureInfo.InvariantCulture, $"\n…and {assignments.GetArrayLength() - AssignmentsShown} more.\n");
        }

        return (message, details.ToString());
    }

    private static string Join(JsonElement items, Func<JsonElement, string> format) =>
        items.GetArrayLength() == 0 ? "none" : string.Join(", ", items.EnumerateArray().Select(format));

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
