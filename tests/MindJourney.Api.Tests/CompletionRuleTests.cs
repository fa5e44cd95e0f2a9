using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Mvc;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>Least-filled integrity: completions feed the tallies that steer new visitors, so against a Production API
/// a participant completes a session only at the experiment's last level, a repeated completion changes nothing, and
/// only a researcher (the admin key) can take a completion back; the tallies follow each of these exactly.</summary>
[Collection(PostgresCollection.Name)]
public sealed class CompletionRuleTests(PostgresServer postgres)
{
    private const int LastLevel = ConditionTests.LastLevel;

    [Fact]
    public async Task A_participant_completes_only_at_the_last_level_once_and_cannot_take_it_back_while_the_admin_can()
    {
        await using var api = await TestApi.StartAsync(postgres, settings: AdminTests.WithAdminKey, productionLimits: true);
        await ConditionTests.DeclareAsync(api, "least-filled", ["a", "b"]);
        var experimentId = await api.ActiveExperimentIdAsync();
        var session = await ApiCalls.StartSessionAsync(api.Client, new { experimentId });
        var path = $"/api/session/{session.Id}";
        var secret = session.SessionSecret!;
        var condition = session.Condition;
        var row = $"SELECT row_to_json(s)::text FROM experiment_sessions s WHERE id = '{session.Id}'";
        var tally = $"SELECT completed FROM condition_tallies WHERE condition = '{condition}'";
        var untouched = await api.ScalarAsync<string>(row);

        // Early: at level 1, or with a level short of the last in the same PATCH. Nothing of the PATCH is applied.
        await AssertProblemAsync(await api.Client.PatchAsJsonAsync(path, new { isCompleted = true }, secret), HttpStatusCode.Conflict);
        await AssertProblemAsync(await api.Client.PatchAsJsonAsync(path, new { currentLevel = LastLevel - 1, isCompleted = true }, secret),
            HttpStatusCode.Conflict);
        Assert.Equal(untouched, await api.ScalarAsync<string>(row));
        Assert.Equal(0, await api.ScalarAsync<long>(tally));

        // At the last level (reached before, or in the same PATCH): completed, counted once.
        var completed = await OkAsync(
            await api.Client.PatchAsJsonAsync(path, new { currentLevel = LastLevel, isCompleted = true }, secret));
        Assert.True(completed.IsCompleted);
        Assert.Equal(1, await api.ScalarAsync<long>(tally));
        var done = await api.ScalarAsync<string>(row);

        // Repeated (a retried Finish), also several at once: 200, the session and the tally unchanged.
        var repeats = await Task.WhenAll(
            Enumerable.Range(0, 4).Select(_ => api.Client.PatchAsJsonAsync(path, new { isCompleted = true }, secret)));
        foreach (var repeat in repeats)
        {
            var body = await OkAsync(repeat);
            // The database keeps microseconds; the first answer carried the clock's ticks.
            Assert.Equal(Microseconds(completed), Microseconds(body));
        }

        Assert.Equal(done, await api.ScalarAsync<string>(row));
        Assert.Equal(1, await api.ScalarAsync<long>(tally));

        // Taking it back: refused to the participant, allowed to the admin key; the tally follows.
        await AssertProblemAsync(await api.Client.PatchAsJsonAsync(path, new { isCompleted = false }, secret), HttpStatusCode.Forbidden);
        Assert.Equal(done, await api.ScalarAsync<string>(row));
        Assert.Equal(1, await api.ScalarAsync<long>(tally));
        var reopened = await OkAsync(await AdminPatchAsync(api.Client, path, new { isCompleted = false }));
        Assert.False(reopened.IsCompleted);
        Assert.Equal(0, await api.ScalarAsync<long>(tally));

        // The admin key may also complete a session before its last level (a researcher's correction).
        await AdminPatchAsync(api.Client, path, new { currentLevel = 2 });
        var corrected = await OkAsync(await AdminPatchAsync(api.Client, path, new { isCompleted = true }));
        Assert.True(corrected.IsCompleted);
        Assert.Equal(1, await api.ScalarAsync<long>(tally));
        // The participant's retried Finish on it changes nothing and is not refused.
        var corrections = await api.ScalarAsync<string>(row);
        Assert.True((await OkAsync(await api.Client.PatchAsJsonAsync(path, new { isCompleted = true }, secret))).IsCompleted);
        Assert.Equal(corrections, await api.ScalarAsync<string>(row));
        Assert.Equal(1, await api.ScalarAsync<long>("SELECT sum(completed) FROM condition_tallies"));
    }

    private static long Microseconds(SessionDetails session) => session.UpdatedAt.Ticks / 10;

    private static async Task<HttpResponseMessage> AdminPatchAsync(HttpClient client, string path, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Patch, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("X-Admin-Key", AdminTests.AdminKey);
        return await client.SendAsync(request);
    }

    private static async Task<SessionDetails> OkAsync(HttpResponseMessage response)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
            return await response.Content.ReadAsAsync<SessionDetails>();
        }
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        using (response)
        {
            Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal((int)expected, (await response.Content.ReadAsAsync<ProblemDetails>()).Status);
        }
    }
}
