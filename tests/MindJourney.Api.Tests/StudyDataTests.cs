using System.Net;
using System.Text.RegularExpressions;
using MindJourney.Api.Admin;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>The participant list and the export show one study when asked (<c>experimentId</c>).</summary>
[Collection(PostgresCollection.Name)]
public sealed partial class StudyDataTests(PostgresServer postgres)
{
    [Fact]
    public async Task The_participant_list_pages_through_one_study_and_its_next_link_keeps_to_it()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var study = await Studies.OpenAsync(api.Client, "listed-study");
        var own = new List<StartedSession>();
        for (var i = 0; i < 3; i++)
        {
            own.Add(await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id }));
            await ApiCalls.StartSessionAsync(api.Client, new { experimentId = StudiesApiTests.SeededStudyId });
        }

        var rows = new List<ParticipantRow>();
        string? next = $"/api/admin/participants?limit=2&experimentId={study.Id}";
        while (next is not null)
        {
            using var page = await Studies.SendAsync(api.Client, HttpMethod.Get, next);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            rows.AddRange(await page.Content.ReadAsAsync<List<ParticipantRow>>());
            next = page.Headers.TryGetValues("Link", out var links) ? LinkTarget().Match(links.Single()).Groups[1].Value : null;
        }

        Assert.Equal(own.Select(s => s.Id).Reverse(), rows.Select(r => r.SessionId));
        Assert.All(rows, r => Assert.Equal(study.Id, r.ExperimentId));
        Assert.Equal([3, 2, 1], rows.Select(r => r.StudyParticipantNumber!.Value));
    }

    [Fact]
    public async Task The_export_of_one_study_has_only_its_sessions_and_the_action_log_names_the_study()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var study = await Studies.OpenAsync(api.Client, "exported-study");
        var inside = await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id });
        var outside = await ApiCalls.StartSessionAsync(api.Client, new { experimentId = StudiesApiTests.SeededStudyId });

        using var response = await Studies.SendAsync(api.Client, HttpMethod.Get, $"/api/admin/export?format=csv&experimentId={study.Id}");
        var csv = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(inside.Id.ToString(), csv, StringComparison.Ordinal);
        Assert.DoesNotContain(outside.Id.ToString(), csv, StringComparison.Ordinal);
        Assert.Equal(2, csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length); // the header and one session
        var logged = await api.ScalarAsync<string>("SELECT details->>'experimentId' FROM admin_actions WHERE action = 'export'");
        Assert.Equal(study.Id.ToString(), logged);
    }

    [GeneratedRegex("^<([^>]+)>; rel=\"next\"$")]
    private static partial Regex LinkTarget();
}
