using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using MindJourney.Api.Experiments;
using MindJourney.Api.Responses;
using MindJourney.Api.Sessions;
using MindJourney.Testing;

namespace MindJourney.AppHost.Tests;

/// <summary>The AppHost's storage wiring: our emulator as <c>firebase-storage</c> (the API waits for it and gets
/// <c>STORAGE_EMULATOR_HOST</c> and <c>FIREBASE_STORAGE_BUCKET</c>), or the official one, or none.</summary>
public sealed class StorageWiringTests
{
    [Fact]
    public async Task An_upload_through_the_apphost_lands_in_the_emulator_with_its_metadata_and_on_disk()
    {
        var port = Ports.Free(); // not 9199, so a developer's running AppHost does not collide with the test
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await using var host = await LocalAppHost.StartAsync("storage",
            ["MindJourney:Postgres=local", $"MindJourney:StorageEmulatorPort={port}"], timeout.Token, "firebase-storage", "api");

        using var http = host.App.CreateHttpClient("api");
        var experiment = await http.GetAsAsync<ExperimentSummary>("/api/experiment", timeout.Token);
        var created = await http.PostAsJsonAsync("/api/session", new { experimentId = experiment.Id }, timeout.Token);
        var session = await created.Content.ReadAsAsync<StartedSession>(timeout.Token);
        var voice = new byte[20_000];
        new Random(1).NextBytes(voice);
        using var form = new MultipartFormDataContent
        {
            { new StringContent(session.Id.ToString()), "sessionId" },
            { new StringContent("3"), "levelId" },
            { new StringContent("q4"), "questionId" },
            { new StringContent("voice"), "responseType" },
            { new StringContent("{\"durationMs\":900}"), "responseData" },
        };
        var file = new ByteArrayContent(voice);
        file.Headers.ContentType = new MediaTypeHeaderValue("audio/webm");
        form.Add(file, "file", "note.webm");

        using var upload = await http.PostAsync("/api/response", form, timeout.Token);
        var answer = await upload.Content.ReadAsAsync<ResponseDetails>(timeout.Token);

        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        Assert.Equal("stored", answer.Storage.Status);
        var objectName = answer.Storage.ObjectName!;
        using var storage = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        // The emulator's object resource, as Google's JSON API names its fields.
        var stored = await storage.GetFromJsonAsync<JsonElement>(
            $"storage/v1/b/mindjourney-dev.appspot.com/o/{Uri.EscapeDataString(objectName)}", timeout.Token);
        Assert.Equal("audio/webm", stored.GetProperty("contentType").GetString());
        Assert.Equal("1", stored.GetProperty("metadata").GetProperty("visitorNumber").GetString());
        using var download = new HttpRequestMessage(HttpMethod.Get, $"/api/download/{answer.Id}");
        download.Headers.Add("X-Session-Secret", session.SessionSecret);
        using var downloaded = await http.SendAsync(download, timeout.Token);
        Assert.Equal(voice, await downloaded.Content.ReadAsByteArrayAsync(timeout.Token));
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(host.DataPath, "storage"), "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Firebase_tools_mode_runs_the_official_emulator_through_npm_and_none_mode_runs_no_emulator()
    {
        await using var official = await LocalAppHost.DescribeAsync(
            ["MindJourney:Postgres=local", "MindJourney:StorageEmulator=firebase-tools"]);
        var emulator = Assert.IsType<ExecutableResource>(Assert.Single(official.Resources, r => r.Name == "firebase-storage"),
            exactMatch: false);
        Assert.Equal("npm", emulator.Command);
        Assert.Contains(official.Resources, r => r.Name == "firebase-storage-install");
        Assert.True(File.Exists(Path.Combine(official.AppHostDirectory, "firebase.json")));
        Assert.True(File.Exists(Path.Combine(official.AppHostDirectory, "storage.rules")));
        Assert.Contains("\"firebase-tools\": \"15.",
            await File.ReadAllTextAsync(Path.Combine(official.AppHostDirectory, "package.json")), StringComparison.Ordinal);

        await using var none = await LocalAppHost.DescribeAsync(
            ["MindJourney:Postgres=local", "MindJourney:StorageEmulator=none"]);
        Assert.DoesNotContain(none.Resources, r => r.Name.StartsWith("firebase-storage", StringComparison.Ordinal));
    }
}
