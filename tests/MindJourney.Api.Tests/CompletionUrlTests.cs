using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>A study's completion link: filled from the stored template with the visitor number and the person's panel
/// ids (URL-encoded, empty when missing) on completion, a repeated completion and a read of the completed session;
/// absent before completion and without a template; only http(s) templates with the four placeholders are taken. And
/// the panel's ids, personal data, reach no log line and no span.</summary>
[Collection(PostgresCollection.Name)]
public sealed class CompletionUrlTests(PostgresServer postgres)
{
    private const string Template = "https://app.prolific.com/submissions/complete?cc=C1A2B3C4&n={visitorNumber}"
        + "&pid={participantId}&study={panelStudyId}&session={panelSessionId}";

    [Fact]
    public async Task Completion_carries_the_filled_encoded_link_again_on_repeat_and_read_and_never_before()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var study = await Studies.CreateAsync(api.Client,
            Studies.Body("with-link", ("slug", "with-link"), ("status", "open"), ("completionUrl", Template)));
        var session = await ApiCalls.StartSessionAsync(api.Client, new
        {
            experimentId = study.Id,
            recruitment = new { source = "prolific", participantId = "a b&c=d/é?#", studyId = "60+1" },
        });
        var path = $"/api/session/{session.Id}";
        var secret = session.SessionSecret!;

        var moved = await BodyAsync(await api.Client.PatchAsJsonAsync(path, new { currentLevel = 2 }, secret));
        var completed = await BodyAsync(await api.Client.PatchAsJsonAsync(path, new { isCompleted = true }, secret));
        var repeated = await BodyAsync(await api.Client.PatchAsJsonAsync(path, new { isCompleted = true }, secret));
        var read = await api.Client.GetFromJsonAsync(path, secret);

        Assert.False(moved.TryGetProperty("completionUrl", out _));
        var expected = "https://app.prolific.com/submissions/complete?cc=C1A2B3C4&n=1"
            + "&pid=a%20b%26c%3Dd%2F%C3%A9%3F%23&study=60%2B1&session=";
        Assert.Equal(expected, completed.GetProperty("completionUrl").GetString());
        Assert.Equal(expected, repeated.GetProperty("completionUrl").GetString());
        Assert.Equal(expected, read.GetProperty("completionUrl").GetString());
    }

    [Fact]
    public async Task Without_a_template_there_is_none_and_a_person_without_panel_ids_gets_them_empty()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var plain = await Studies.OpenAsync(api.Client, "no-link");
        var linked = await Studies.CreateAsync(api.Client,
            Studies.Body("linked", ("slug", "linked"), ("status", "open"), ("completionUrl", Template)));

        var withoutLink = await CompleteAsync(api, await ApiCalls.StartSessionAsync(api.Client, new { experimentId = plain.Id }));
        var anonymous = await CompleteAsync(api, await ApiCalls.StartSessionAsync(api.Client, new { experimentId = linked.Id }));

        Assert.False(withoutLink.TryGetProperty("completionUrl", out _));
        Assert.Equal("https://app.prolific.com/submissions/complete?cc=C1A2B3C4&n=2&pid=&study=&session=",
            anonymous.GetProperty("completionUrl").GetString());
    }

    [Theory]
    [InlineData("javascript:alert(1)")]
    [InlineData("ftp://example.org/done")]
    [InlineData("/relative/done")]
    [InlineData("https://example.org/done?code={code}")]
    [InlineData("https://{participantId}.example.org/done")]
    [InlineData("https://example.org{participantId}/done")]
    public async Task A_study_takes_only_http_links_with_the_four_placeholders_after_the_host(string template)
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);

        using var refused = await Studies.SendAsync(api.Client, HttpMethod.Post, "/api/admin/experiments",
            Studies.Body("bad-link", ("completionUrl", template)));

        var (status, _, problem) = await Studies.ProblemAsync(refused);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.True(problem.GetProperty("errors").TryGetProperty("completionUrl", out _), problem.ToString());
        var accepted = await Studies.CreateAsync(api.Client, Studies.Body("good-link", ("completionUrl", Template)));
        Assert.Equal(Template, accepted.CompletionUrl);
    }

    [Fact]
    public async Task A_recruited_play_and_its_completion_leave_the_panel_ids_in_no_log_line_and_no_span()
    {
        var settings = new Dictionary<string, string?>(AdminTests.WithAdminKey) { ["Logging:LogLevel:Default"] = "Trace" };
        await using var api = await TestApi.StartAsync(postgres, settings: settings);
        var logs = new FakeLogCollector();
        api.Hosts[0].Services.GetRequiredService<ILoggerFactory>().AddProvider(new FakeLoggerProvider(logs));
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = _ => true,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        var study = await Studies.CreateAsync(api.Client,
            Studies.Body("private", ("slug", "private"), ("status", "open"), ("completionUrl", Template)));
        const string Pid = "PIDsecret7f3a", StudyId = "STUDYsecret9c", SessionId = "SESSIONsecret4d";

        // The page as a panel opens it, the Play, a bad Play, the completion, the read.
        using (await api.Client.GetAsync($"/?study=private&PROLIFIC_PID={Pid}&STUDY_ID={StudyId}&SESSION_ID={SessionId}"))
        {
        }

        var recruitment = new { source = "prolific", participantId = Pid, studyId = StudyId, sessionId = SessionId };
        var session = await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id, recruitment });
        var bad = recruitment with { studyId = Pid + "\0" };
        using (await Studies.PlayAsync(api.Client, new { experimentId = study.Id, recruitment = bad }))
        {
        }

        var completed = await CompleteAsync(api, session);
        await api.Client.GetFromJsonAsync($"/api/session/{session.Id}", session.SessionSecret!);
        Assert.Contains(Pid, completed.GetProperty("completionUrl").GetString());

        var lines = logs.GetSnapshot().Select(l => $"{l.Category} {l.Message} {l.Exception} "
            + string.Join(" ", l.StructuredState?.Select(p => p.Value) ?? [])).ToList();
        var spanTexts = spans.Select(a => $"{a.Source.Name} {a.DisplayName} {a.StatusDescription} "
            + string.Join(" ", a.TagObjects.Select(t => $"{t.Key}={t.Value}"))
            + string.Join(" ", a.Events.SelectMany(e => e.Tags.Select(t => $"{t.Key}={t.Value}"))) + string.Join(" ", a.Baggage)).ToList();
        Assert.NotEmpty(lines);
        Assert.Contains(spanTexts, s => s.Contains("/api/session", StringComparison.Ordinal));
        foreach (var id in new[] { Pid, StudyId, SessionId })
        {
            Assert.DoesNotContain(lines, line => line.Contains(id, StringComparison.Ordinal));
            Assert.DoesNotContain(spanTexts, span => span.Contains(id, StringComparison.Ordinal));
        }
    }

    private static async Task<JsonElement> CompleteAsync(TestApi api, Sessions.StartedSession session) =>
        await BodyAsync(await api.Client.PatchAsJsonAsync($"/api/session/{session.Id}", new { currentLevel = 2, isCompleted = true },
            session.SessionSecret!));

    private static async Task<JsonElement> BodyAsync(HttpResponseMessage response)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, text);
            return JsonDocument.Parse(text).RootElement.Clone();
        }
    }
}
