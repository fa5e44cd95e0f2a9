using System.Net;
using MindJourney.Api.Experiments;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>A study's enrollment over time (<c>GET /api/admin/experiments/{id}/enrollment</c>): live sessions per
/// hour or day by when they started, those of them completed, and both per condition; pilots and other studies'
/// people left out.</summary>
[Collection(PostgresCollection.Name)]
public sealed class EnrollmentTests(PostgresServer postgres)
{
    private static readonly DateTimeOffset Nov1 = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Live_sessions_are_counted_per_hour_and_per_day_in_time_order_with_each_condition()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var study = await Studies.OpenAsync(api.Client, "over-time");
        var people = new List<StartedSession>();
        for (var i = 0; i < 4; i++)
        {
            people.Add(await ApiCalls.StartSessionAsync(api.Client, new { experimentId = study.Id })); // control, treatment…
        }

        var pilot = await ApiCalls.StartSessionAsync(api.Client,
            new { experimentId = study.Id, mode = "pilot", pilotToken = await api.PilotTokenAsync(study.Id) });
        var elsewhere = await ApiCalls.StartSessionAsync(api.Client, new { experimentId = StudiesApiTests.SeededStudyId });
        // Started on 1 November at 09:15, 09:50 (both at 09:00), 10:40, and on 3 November at 08:00 (UTC); 1 and 3 completed.
        await StartedAtAsync(api, people[0], Nov1.AddHours(9.25), completed: true);
        await StartedAtAsync(api, people[1], Nov1.AddHours(9.83), completed: false);
        await StartedAtAsync(api, people[2], Nov1.AddHours(10.67), completed: true);
        await StartedAtAsync(api, people[3], Nov1.AddDays(2).AddHours(8), completed: false);
        await StartedAtAsync(api, pilot, Nov1.AddHours(9.5), completed: true);
        await StartedAtAsync(api, elsewhere, Nov1.AddHours(9.5), completed: true);

        var hours = await EnrollmentAsync(api, study.Id, "hour");
        var days = await EnrollmentAsync(api, study.Id, "day");

        Assert.Equal([(Nov1.AddHours(9), 2L, 1L), (Nov1.AddHours(10), 1L, 1L), (Nov1.AddDays(2).AddHours(8), 1L, 0L)],
            hours.Select(b => (b.Start, b.Started, b.Completed)));
        Assert.Equal(new Dictionary<string, ConditionEnrollment>
        {
            ["control"] = new(1, 1),
            ["treatment"] = new(1, 0),
        }, hours[0].ByCondition);
        Assert.Equal(new Dictionary<string, ConditionEnrollment> { ["control"] = new(1, 1) }, hours[1].ByCondition);
        Assert.Equal(new Dictionary<string, ConditionEnrollment> { ["treatment"] = new(1, 0) }, hours[2].ByCondition);
        Assert.Equal([(Nov1, 3L, 2L), (Nov1.AddDays(2), 1L, 0L)], days.Select(b => (b.Start, b.Started, b.Completed)));
        Assert.Equal(new Dictionary<string, ConditionEnrollment>
        {
            ["control"] = new(2, 2),
            ["treatment"] = new(1, 0),
        }, days[0].ByCondition);
        Assert.Equal(Nov1.AddHours(9), Assert.Single(await EnrollmentAsync(api, StudiesApiTests.SeededStudyId, "hour")).Start);
    }

    [Fact]
    public async Task A_study_with_only_pilots_has_no_buckets_and_the_day_is_the_default_bucket()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var study = await Studies.CreateAsync(api.Client, Studies.Body("Pilots only"));
        await ApiCalls.StartSessionAsync(api.Client,
            new { experimentId = study.Id, mode = "pilot", pilotToken = await api.PilotTokenAsync(study.Id) });
        var person = await ApiCalls.StartSessionAsync(api.Client, new { experimentId = StudiesApiTests.SeededStudyId });
        await StartedAtAsync(api, person, Nov1.AddHours(13), completed: false);

        Assert.Empty(await EnrollmentAsync(api, study.Id, "hour"));
        var byDefault = await GetAsync(api, $"/api/admin/experiments/{StudiesApiTests.SeededStudyId}/enrollment");
        Assert.Equal(HttpStatusCode.OK, byDefault.StatusCode);
        var day = Assert.Single(await byDefault.Content.ReadAsAsync<List<EnrollmentBucket>>());
        Assert.Equal((Nov1, 1L, 0L), (day.Start, day.Started, day.Completed));
    }

    [Fact]
    public async Task A_bad_bucket_is_400_an_unknown_study_404_and_no_key_401_all_problem_json()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey);
        var seeded = $"/api/admin/experiments/{StudiesApiTests.SeededStudyId}/enrollment";

        using var badBucket = await GetAsync(api, seeded + "?bucket=week");
        using var unknown = await GetAsync(api, $"/api/admin/experiments/{Guid.NewGuid()}/enrollment?bucket=day");
        using var noKey = await api.Client.GetAsync(seeded + "?bucket=day");

        var (status, type, problem) = await Studies.ProblemAsync(badBucket);
        Assert.Equal((HttpStatusCode.BadRequest, "/problems/validation"), (status, type));
        Assert.Equal("bucket must be 'hour' or 'day'.", problem.GetProperty("errors").GetProperty("bucket")[0].GetString());
        var (unknownStatus, unknownType, _) = await Studies.ProblemAsync(unknown);
        Assert.Equal((HttpStatusCode.NotFound, "/problems/study-not-found"), (unknownStatus, unknownType));
        var (noKeyStatus, noKeyType, _) = await Studies.ProblemAsync(noKey);
        Assert.Equal((HttpStatusCode.Unauthorized, "/problems/unauthorized"), (noKeyStatus, noKeyType));
    }

    private static Task StartedAtAsync(TestApi api, StartedSession session, DateTimeOffset at, bool completed) =>
        api.ExecuteAsync($"UPDATE experiment_sessions SET created_at = '{at:O}', is_completed = {completed} WHERE id = '{session.Id}'");

    private static async Task<List<EnrollmentBucket>> EnrollmentAsync(TestApi api, Guid studyId, string bucket)
    {
        using var response = await GetAsync(api, $"/api/admin/experiments/{studyId}/enrollment?bucket={bucket}");
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await response.Content.ReadAsAsync<List<EnrollmentBucket>>();
    }

    private static Task<HttpResponseMessage> GetAsync(TestApi api, string path) =>
        Studies.SendAsync(api.Client, HttpMethod.Get, path);
}
