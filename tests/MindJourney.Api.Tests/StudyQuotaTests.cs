using System.Net;
using MindJourney.Api.Experiments;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>Each study numbers its own people (1, 2, 3… in the statement that gives the visitor number), draws
/// conditions from that number, and takes at most its cap of live people, exactly, under load and across replicas:
/// a refused person draws no visitor number.</summary>
[Collection(PostgresCollection.Name)]
public sealed class StudyQuotaTests(PostgresServer postgres)
{
    [Fact]
    public async Task Two_studies_open_at_once_are_each_balanced_by_cycle_from_their_own_numbers()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var first = await Studies.OpenAsync(api.Client, "first-study");
        var second = await Studies.OpenAsync(api.Client, "second-study");

        var sessions = new List<StartedSession>();
        for (var i = 0; i < 6; i++)
        {
            // Alternating Plays: by visitor number, every person of one study would get the same condition.
            sessions.Add(await ApiCalls.StartSessionAsync(api.Client, new { experimentId = (i % 2 == 0 ? first : second).Id }));
        }

        foreach (var study in new[] { first, second })
        {
            var own = sessions.Where(s => s.ExperimentId == study.Id).ToList();
            Assert.Equal([1, 2, 3], own.Select(s => s.StudyParticipantNumber!.Value));
            Assert.Equal(["control", "treatment", "control"], own.Select(s => s.Condition));
        }

        Assert.Equal(Enumerable.Range(1, 6), sessions.Select(s => s.VisitorNumber!.Value));
        var returning = await ApiCalls.StartSessionAsync(api.Client,
            new { experimentId = first.Id, userId = sessions[2].UserId }, secret: sessions[2].SessionSecret);
        var elsewhere = await ApiCalls.StartSessionAsync(api.Client,
            new { experimentId = second.Id, userId = sessions[2].UserId }, secret: sessions[2].SessionSecret);
        Assert.Equal((2, 3, "treatment"), (returning.StudyParticipantNumber, returning.VisitorNumber, returning.Condition));
        Assert.Equal((4, 3, "treatment"), (elsewhere.StudyParticipantNumber, elsewhere.VisitorNumber, elsewhere.Condition));
    }

    [Fact]
    public async Task A_full_study_refuses_a_new_person_with_409_study_full_drawing_no_number_and_keeps_its_people_and_replays()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var study = await Studies.OpenAsync(api.Client, "two-seats", maxParticipants: 2);
        var firstKey = Guid.NewGuid().ToString();
        var first = await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id }, firstKey);
        await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id });

        using var full = await Studies.PlayAsync(api.Client, new { experimentId = study.Id });
        using var fullWithKey = await Studies.PlayAsync(api.Client, new { experimentId = study.Id }, Guid.NewGuid().ToString());
        var replay = await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id }, firstKey);
        var returning = await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id, userId = first.UserId },
            secret: first.SessionSecret);
        var pilot = await ApiCalls.StartSessionAsync(api.Client,
            new { experimentId = study.Id, mode = "pilot", pilotToken = await api.PilotTokenAsync(study.Id) });

        Assert.Equal((HttpStatusCode.Conflict, "/problems/study-full"), Head(await Studies.ProblemAsync(full)));
        Assert.Equal((HttpStatusCode.Conflict, "/problems/study-full"), Head(await Studies.ProblemAsync(fullWithKey)));
        Assert.Equal((first.Id, 1), (replay.Id, replay.StudyParticipantNumber));
        Assert.Equal((first.VisitorNumber, 1), (returning.VisitorNumber, returning.StudyParticipantNumber));
        Assert.Equal((1, "pilot"), (pilot.StudyParticipantNumber, pilot.Mode));
        Assert.Equal(2, await api.SequencePositionAsync());
        Assert.Equal(2, await api.ScalarAsync<long>("SELECT count(*) FROM users WHERE mode = 'live'"));
        Assert.Empty((await ApiCalls.AuditAsync(api.Client)).Gaps);
    }

    [Theory]
    [InlineData("draft", "/problems/study-not-open")]
    [InlineData("closed", "/problems/study-closed")]
    public async Task A_study_not_open_refuses_new_people_with_409_drawing_no_number(string status, string type)
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var study = await Studies.OpenAsync(api.Client, "soon-or-gone");
        var inside = await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id });
        await Studies.PatchAsync(api.Client, study.Id, new { status });

        using var refused = await Studies.PlayAsync(api.Client, new { experimentId = study.Id });
        using var refusedWithKey = await Studies.PlayAsync(api.Client, new { experimentId = study.Id }, Guid.NewGuid().ToString());
        var again = await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id, userId = inside.UserId },
            secret: inside.SessionSecret);

        Assert.Equal((HttpStatusCode.Conflict, type), Head(await Studies.ProblemAsync(refused)));
        Assert.Equal((HttpStatusCode.Conflict, type), Head(await Studies.ProblemAsync(refusedWithKey)));
        Assert.Equal((inside.VisitorNumber, 1), (again.VisitorNumber, again.StudyParticipantNumber));
        Assert.Equal(1, await api.SequencePositionAsync());
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT count(*) FROM users"));
    }

    [Fact]
    public async Task A_fallback_person_counts_toward_the_cap_and_the_recovery_numbers_them_within_it()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var study = await Studies.OpenAsync(api.Client, "fallback-seat", maxParticipants: 3);
        await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id });
        await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id });
        await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence MAXVALUE 2");
        var fallback = await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id });
        await api.ExecuteAsync("ALTER SEQUENCE visitor_counter_sequence NO MAXVALUE");

        using var full = await Studies.PlayAsync(api.Client, new { experimentId = study.Id });
        var recovered = await ApiCalls.RecoverAsync(api.Client);

        Assert.Equal((null, 3), (fallback.VisitorNumber, fallback.StudyParticipantNumber));
        Assert.Equal((HttpStatusCode.Conflict, "/problems/study-full"), Head(await Studies.ProblemAsync(full)));
        var assignment = Assert.Single(recovered.Assignments);
        Assert.Equal((fallback.Id, 3, "control"), (assignment.SessionId, assignment.VisitorNumber, assignment.Condition));
        Assert.Equal(3, await api.ScalarAsync<int>($"SELECT participants_numbered FROM experiments WHERE id = '{study.Id}'"));
    }

    [Fact]
    public async Task A_returning_person_s_simultaneous_first_sessions_in_a_study_share_one_study_number()
    {
        await using var api = await TestApi.StartAsync(postgres, instances: 2, settings: AdminTests.WithAdminKey);
        var study = await Studies.OpenAsync(api.Client, "both-at-once", maxParticipants: 5);
        var person = await ApiCalls.StartSessionAsync(api.Client, new { experimentId = StudiesApiTests.SeededStudyId });

        var sessions = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => ApiCalls.StartSessionAsync(api.Hosts[i % 2].CreateClient(),
            new { experimentId = study.Id, userId = person.UserId }, secret: person.SessionSecret)));

        Assert.All(sessions, s => Assert.Equal((1, person.VisitorNumber), (s.StudyParticipantNumber, s.VisitorNumber)));
        Assert.Equal(1, await api.ScalarAsync<int>($"SELECT participants_numbered FROM experiments WHERE id = '{study.Id}'"));
    }

    [Fact]
    public async Task New_conditions_apply_to_people_numbered_afterwards_and_a_returning_person_keeps_theirs()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var study = await Studies.OpenAsync(api.Client, "changed-arms");
        var first = await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id });

        await Studies.PatchAsync(api.Client, study.Id, new { conditions = new[] { "a", "b", "c" } });
        var second = await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id });
        var again = await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id, userId = first.UserId },
            secret: first.SessionSecret);

        Assert.Equal(("control", "b", "control"), (first.Condition, second.Condition, again.Condition));
    }

    /// <summary>The figure: 1,000 concurrent Plays at cap 200, spread over two API instances with numbering
    /// batched → exactly 200 numbered (study numbers 1 to 200), 800 refused with study-full, the sequence moved by
    /// exactly 200.</summary>
    [Fact]
    public async Task A_thousand_concurrent_plays_across_two_instances_number_exactly_the_cap_and_draw_nothing_for_the_rest()
    {
        const int Plays = 1000, Cap = 200;
        await using var api = await TestApi.StartAsync(postgres, instances: 2, settings: AdminTests.WithAdminKey);
        var study = await Studies.OpenAsync(api.Client, "two-hundred", maxParticipants: Cap);
        var before = await api.SequencePositionAsync();
        var clients = api.Hosts.Select(h => h.CreateClient()).ToArray();

        using var start = new SemaphoreSlim(0);
        var plays = Enumerable.Range(0, Plays).Select(async i =>
        {
            await start.WaitAsync();
            using var response = await Studies.PlayAsync(clients[i % 2], new { experimentId = study.Id }, $"quota-play-{i:D6}");
            return response.StatusCode == HttpStatusCode.Created
                ? (response.StatusCode, (await response.Content.ReadAsAsync<StartedSession>()).StudyParticipantNumber, null)
                : (response.StatusCode, (int?)null, (await Studies.ProblemAsync(response)).Type);
        }).ToList();
        start.Release(Plays);
        var results = await Task.WhenAll(plays);

        var numbered = results.Where(r => r.StatusCode == HttpStatusCode.Created).ToList();
        var refused = results.Where(r => r.StatusCode != HttpStatusCode.Created).ToList();
        Assert.Equal(Enumerable.Range(1, Cap), numbered.Select(r => r.Item2!.Value).Order());
        Assert.Equal(Plays - Cap, refused.Count);
        Assert.All(refused, r => Assert.Equal((HttpStatusCode.Conflict, "/problems/study-full"), (r.StatusCode, r.Item3)));
        Assert.Equal(before + Cap, await api.SequencePositionAsync());
        Assert.Equal(Cap, await api.ScalarAsync<long>($"SELECT count(*) FROM experiment_sessions WHERE experiment_id = '{study.Id}'"));
        var audit = await ApiCalls.AuditAsync(api.Client);
        Assert.Empty(audit.Gaps);
        Assert.Empty(audit.Duplicates);
    }

    private static (HttpStatusCode, string?) Head((HttpStatusCode Status, string? Type, System.Text.Json.JsonElement Problem) refusal) =>
        (refusal.Status, refusal.Type);
}
