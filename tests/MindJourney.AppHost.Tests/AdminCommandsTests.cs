using System.Net.Http.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using MindJourney.Api.Experiments;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.AppHost.Tests;

/// <summary>The dashboard's "Audit visitor numbers" and "Recover visitor numbers" on the API resource: they send the
/// AppHost's admin key and return the audit's summary and what the recovery changed.</summary>
public sealed class AdminCommandsTests
{
    [Fact]
    public async Task The_audit_command_reports_a_fallback_session_and_the_recover_command_numbers_it()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await using var host = await LocalAppHost.StartAsync("commands", LocalAppHost.Local, timeout.Token);
        var app = host.App;

        // Visitors #1 and #2, then a fallback session (the sequence at its MAXVALUE), as the recovery's tests make one.
        using var http = app.CreateHttpClient("api");
        var experimentId = (await http.GetAsAsync<ExperimentSummary>("/api/experiment", timeout.Token)).Id;
        for (var i = 0; i < 2; i++)
        {
            (await http.PostAsJsonAsync("/api/session", new { experimentId }, timeout.Token)).EnsureSuccessStatusCode();
        }

        await host.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence MAXVALUE 2", timeout.Token);
        var fallback = await (await http.PostAsJsonAsync("/api/session", new { experimentId }, timeout.Token))
            .Content.ReadAsAsync<StartedSession>(timeout.Token);
        Assert.Null(fallback.VisitorNumber);
        await host.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence NO MAXVALUE", timeout.Token);
        var commands = app.Services.GetRequiredService<ResourceCommandService>();

        var audit = await commands.ExecuteCommandAsync("api", AdminCommands.AuditCommand, timeout.Token);
        var recovery = await commands.ExecuteCommandAsync("api", AdminCommands.RecoverCommand, timeout.Token);
        var after = await commands.ExecuteCommandAsync("api", AdminCommands.AuditCommand, timeout.Token);

        Assert.True(audit.Success, audit.Message);
        Assert.Equal("Sequence at 2: 0 duplicates, 0 gaps, 0 mismatched sessions, 0 mismatched responses, " +
            "1 sessions without a number, 0 pending uploads.", audit.Message);
        Assert.Contains("| Sessions without a number | 1 |", audit.Data?.Value, StringComparison.Ordinal);
        Assert.True(recovery.Success, recovery.Message);
        Assert.Equal("Handed out 1 numbers; 1 sessions numbered, 0 responses and 0 stored objects updated.", recovery.Message);
        Assert.Contains($"| {fallback.Id} | {fallback.UserId} | #3 |",
            recovery.Data?.Value, StringComparison.Ordinal);
        Assert.True(after.Success, after.Message);
        Assert.StartsWith("Sequence at 3: 0 duplicates, 0 gaps", after.Message, StringComparison.Ordinal);
        Assert.Contains("0 sessions without a number", after.Message, StringComparison.Ordinal);
        var adminKey = await ParameterValueAsync(app, "admin-api-key", timeout.Token);
        Assert.DoesNotContain(adminKey, await host.LogsAsync("api"), StringComparison.Ordinal);
    }

    private static async Task<string> ParameterValueAsync(DistributedApplication app, string name, CancellationToken cancellationToken)
    {
        var parameter = app.Services.GetRequiredService<DistributedApplicationModel>().Resources
            .OfType<ParameterResource>().Single(p => p.Name == name);
        return await parameter.GetValueAsync(cancellationToken) ?? throw new InvalidOperationException($"No {name}.");
    }
}
