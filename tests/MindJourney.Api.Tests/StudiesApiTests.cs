using System.Net;
using System.Text.Json;
using MindJourney.Api.Admin;
using MindJourney.Api.Experiments;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>A researcher creates, reads and changes studies through the admin API, without SQL; every change is in
/// the action log with the fields before and after.</summary>
[Collection(PostgresCollection.Name)]
public sealed class StudiesApiTests(PostgresServer postgres)
{
    [Fact]
    public async Task A_created_study_answers_201_with_its_links_and_is_listed_newest_first_and_logged()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);

        var study = await Studies.CreateAsync(api.Client, Studies.Body("Memory and mood", ("description", "Two short levels."),
            ("maxParticipants", 200), ("completionUrl", "https://example.org/done"), ("sonaParameter", "id")));

        Assert.Equal(("memory-and-mood", "draft", "/?study=memory-and-mood"), (study.Slug, study.Status, study.ParticipantUrl));
        Assert.Equal((200, "cycle", "https://example.org/done", "id"),
            (study.MaxParticipants, study.ConditionScheme, study.CompletionUrl, study.SonaParameter));
        Assert.Equal(["control", "treatment"], study.Conditions);
        Assert.Equal(["Level 1", "Level 2"], study.Levels.Select(l => l.Title));
        Assert.Equal("q2", study.Levels[1].Questions[0].GetProperty("id").GetString());
        Assert.Equal(new StudyParticipants(0, 0), study.Participants);
        Assert.Null(study.OpenedAt);

        var listed = await GetAsync<List<StudyDetails>>(api.Client, "/api/admin/experiments");
        Assert.Equal([study.Id, SeededStudyId], listed.Select(s => s.Id));
        Assert.Equal(study.Title, (await GetAsync<StudyDetails>(api.Client, $"/api/admin/experiments/{study.Id}")).Title);

        var logged = Assert.Single(await ActionsAsync(api.Client, AdminActionLog.StudyCreated));
        Assert.Equal(study.Id.ToString(), logged.Details.GetProperty("studyId").GetString());
        Assert.Equal(JsonValueKind.Null, logged.Details.GetProperty("before").ValueKind);
        Assert.Equal(200, logged.Details.GetProperty("after").GetProperty("maxParticipants").GetInt32());
    }

    [Fact]
    public async Task Broken_rules_are_refused_with_400_errors_keyed_by_field_path_and_nothing_is_created()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var body = Studies.Body("Broken", ("slug", "No Capitals"), ("status", "running"), ("maxParticipants", 0),
            ("conditions", new[] { "a", "a" }), ("completionUrl", "javascript:alert(1)"),
            ("levels", new object[]
            {
                new { title = "One", questions = new object[] { new { id = "q1", type = "text", prompt = "?" },
                    new { id = "q1", type = "hologram", prompt = "" } } },
            }));

        using var response = await Studies.SendAsync(api.Client, HttpMethod.Post, "/api/admin/experiments", body);

        var (status, type, problem) = await Studies.ProblemAsync(response);
        Assert.Equal((HttpStatusCode.BadRequest, "/problems/validation"), (status, type));
        var errors = problem.GetProperty("errors").EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal);
        Assert.Equal(["completionUrl", "conditions[1]", "levels[0].questions[1].id", "levels[0].questions[1].prompt",
            "levels[0].questions[1].type", "maxParticipants", "slug", "status"], errors);
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM experiments"));
    }

    [Fact]
    public async Task A_slug_is_made_from_the_title_and_a_taken_slug_is_refused_with_409()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var first = await Studies.CreateAsync(api.Client, Studies.Body("Café & Träume!"));
        var second = await Studies.CreateAsync(api.Client, Studies.Body("Cafe Traume"));

        using var taken = await Studies.SendAsync(api.Client, HttpMethod.Post, "/api/admin/experiments",
            Studies.Body("Another", ("slug", "cafe-traume")));
        using var patched = await Studies.SendAsync(api.Client, HttpMethod.Patch, $"/api/admin/experiments/{second.Id}",
            new { slug = "cafe-traume" });

        Assert.Equal("cafe-traume", first.Slug);
        Assert.StartsWith("cafe-traume-", second.Slug, StringComparison.Ordinal);
        Assert.Equal((HttpStatusCode.Conflict, "/problems/slug-taken"), Head(await Studies.ProblemAsync(taken)));
        Assert.Equal((HttpStatusCode.Conflict, "/problems/slug-taken"), Head(await Studies.ProblemAsync(patched)));
        Assert.Equal(3, await api.ScalarAsync<long>("SELECT count(*) FROM experiments"));
    }

    [Fact]
    public async Task A_change_is_logged_with_the_fields_before_and_after_and_levels_and_slug_are_fixed_once_a_live_person_started()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var study = await Studies.CreateAsync(api.Client, Studies.Body("Fixed after start"));
        var newLevels = new[] { new { title = "Only", questions = new[] { new { id = "q9", type = "voice", prompt = "Say it" } } } };

        var changed = await Studies.PatchAsync(api.Client, study.Id, new { levels = newLevels, maxParticipants = 2, status = "open" });
        Assert.Equal((1, 2, "open"), (changed.Levels.Count, changed.MaxParticipants, changed.Status));
        Assert.NotNull(changed.OpenedAt);
        await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id });

        using var levels = await Studies.SendAsync(api.Client, HttpMethod.Patch, $"/api/admin/experiments/{study.Id}",
            new { levels = newLevels });
        using var slug = await Studies.SendAsync(api.Client, HttpMethod.Patch, $"/api/admin/experiments/{study.Id}",
            new { slug = "moved-study" });
        using var belowStarted = await Studies.SendAsync(api.Client, HttpMethod.Patch, $"/api/admin/experiments/{study.Id}",
            new { maxParticipants = 0 });
        using var unknown = await Studies.SendAsync(api.Client, HttpMethod.Patch, $"/api/admin/experiments/{Guid.NewGuid()}",
            new { title = "x" });
        var capped = await Studies.PatchAsync(api.Client, study.Id, new { maxParticipants = 1, title = "Renamed" });

        Assert.Equal((HttpStatusCode.Conflict, "/problems/study-started"), Head(await Studies.ProblemAsync(levels)));
        Assert.Equal((HttpStatusCode.Conflict, "/problems/study-started"), Head(await Studies.ProblemAsync(slug)));
        Assert.Equal((HttpStatusCode.BadRequest, "/problems/validation"), Head(await Studies.ProblemAsync(belowStarted)));
        Assert.Equal((HttpStatusCode.NotFound, "/problems/study-not-found"), Head(await Studies.ProblemAsync(unknown)));
        Assert.Equal((1, "Renamed", new StudyParticipants(1, 0)), (capped.MaxParticipants, capped.Title, capped.Participants));
        using var lower = await Studies.SendAsync(api.Client, HttpMethod.Patch, $"/api/admin/experiments/{study.Id}",
            new { maxParticipants = 1 });
        Assert.Equal(HttpStatusCode.OK, lower.StatusCode);

        var changes = await ActionsAsync(api.Client, AdminActionLog.StudyChanged);
        var last = changes[1].Details; // newest first: the last PATCH changed nothing
        Assert.Equal("""{"title":"Fixed after start","maxParticipants":2}""", last.GetProperty("before").GetRawText());
        Assert.Equal("""{"title":"Renamed","maxParticipants":1}""", last.GetProperty("after").GetRawText());
        Assert.Equal("draft", changes[2].Details.GetProperty("before").GetProperty("status").GetString());
        Assert.Equal(3, changes.Count);
    }

    [Fact]
    public async Task The_cap_cannot_go_below_the_people_already_started()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var study = await Studies.OpenAsync(api.Client, "two-people", maxParticipants: 5);
        await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id });
        await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id });

        using var below = await Studies.SendAsync(api.Client, HttpMethod.Patch, $"/api/admin/experiments/{study.Id}",
            new { maxParticipants = 1 });

        var (status, type, problem) = await Studies.ProblemAsync(below);
        Assert.Equal((HttpStatusCode.Conflict, "/problems/study-started"), (status, type));
        Assert.Contains("2 people", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(5, await api.ScalarAsync<int>($"SELECT max_participants FROM experiments WHERE id = '{study.Id}'"));
    }

    [Fact]
    public async Task The_page_gets_the_most_recently_opened_study_or_the_one_its_link_names_with_its_status()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var open = await Studies.OpenAsync(api.Client, "open-one");
        var draft = await Studies.CreateAsync(api.Client, Studies.Body("Draft one", ("slug", "draft-one")));
        var closed = await Studies.CreateAsync(api.Client, Studies.Body("Closed one", ("slug", "closed-one"), ("status", "closed")));

        var active = await api.Client.GetAsAsync<ExperimentSummary>("/api/experiment");
        var linked = await api.Client.GetAsAsync<ExperimentSummary>("/api/experiment?study=open-one");
        using var notOpen = await api.Client.GetAsync("/api/experiment?study=draft-one");
        using var isClosed = await api.Client.GetAsync("/api/experiment?study=closed-one");
        using var none = await api.Client.GetAsync("/api/experiment?study=no-such-study");

        Assert.Equal((open.Id, "open", true), (active.Id, active.Status, active.IsActive));
        Assert.Equal((open.Id, "open-one"), (linked.Id, linked.Slug));
        Assert.Equal((HttpStatusCode.Conflict, "/problems/study-not-open"), Head(await Studies.ProblemAsync(notOpen)));
        Assert.Equal((HttpStatusCode.Conflict, "/problems/study-closed"), Head(await Studies.ProblemAsync(isClosed)));
        Assert.Equal((HttpStatusCode.NotFound, "/problems/study-not-found"), Head(await Studies.ProblemAsync(none)));

        // Reopening the seeded study makes it the most recently opened again.
        await Studies.PatchAsync(api.Client, SeededStudyId, new { status = "closed" });
        await Studies.PatchAsync(api.Client, SeededStudyId, new { status = "open" });
        Assert.Equal(SeededStudyId, (await api.Client.GetAsAsync<ExperimentSummary>("/api/experiment")).Id);
        Assert.NotEqual(draft.Id, closed.Id);
    }

    [Fact]
    public async Task A_null_description_is_no_description_when_created_and_takes_one_away_when_changed()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);

        var plain = await Studies.CreateAsync(api.Client, Studies.Body("No description", ("description", null)));
        var described = await Studies.CreateAsync(api.Client, Studies.Body("Described", ("description", "Two levels.")));
        var cleared = await Studies.PatchAsync(api.Client, described.Id, new Dictionary<string, object?> { ["description"] = null });

        Assert.Equal((null, "Two levels.", null), (plain.Description, described.Description, cleared.Description));
    }

    [Fact]
    public async Task Every_refusal_has_a_relative_problem_type_under_problems()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);

        using var noKey = await api.Client.GetAsync("/api/admin/experiments");
        using var noRoute = await api.Client.GetAsync("/api/no-such-route");
        using var badSession = await Studies.PlayAsync(api.Client, new { currentLevel = 1 });
        using var badStudy = await Studies.SendAsync(api.Client, HttpMethod.Post, "/api/admin/experiments", new { title = "x" });

        Assert.Equal((HttpStatusCode.Unauthorized, "/problems/unauthorized"), Head(await Studies.ProblemAsync(noKey)));
        Assert.Equal((HttpStatusCode.NotFound, "/problems/not-found"), Head(await Studies.ProblemAsync(noRoute)));
        Assert.Equal((HttpStatusCode.BadRequest, "/problems/bad-request"), Head(await Studies.ProblemAsync(badSession)));
        Assert.Equal((HttpStatusCode.BadRequest, "/problems/validation"), Head(await Studies.ProblemAsync(badStudy)));
    }

    internal static readonly Guid SeededStudyId = new("6f1c1e38-5a43-4c1b-9d3e-0d6b2f6a1001");

    private static (HttpStatusCode, string?) Head((HttpStatusCode Status, string? Type, JsonElement Problem) refusal) =>
        (refusal.Status, refusal.Type);

    private static async Task<T> GetAsync<T>(HttpClient client, string path)
    {
        using var response = await Studies.SendAsync(client, HttpMethod.Get, path);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await response.Content.ReadAsAsync<T>();
    }

    private static async Task<List<AdminActionEntry>> ActionsAsync(HttpClient client, string action) =>
        [.. (await GetAsync<List<AdminActionEntry>>(client, "/api/admin/actions")).Where(a => a.Action == action)];
}
