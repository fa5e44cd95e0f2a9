using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;

#pragma warning disable ASPIREPROBES001 // The probes are what the test reads.

namespace MindJourney.AppHost.Tests;

/// <summary>The published manifest is the deployment description (docs/DEPLOY.md): it is written as the issue's
/// command writes it (<c>dotnet run --project MindJourney.AppHost -- --publisher manifest</c>, so as Development, the
/// worst case) and must describe production, not the machine that published it.</summary>
public sealed partial class ManifestTests
{
    [Theory]
    [InlineData("container", "")]
    [InlineData("external", "10.1.0.0/16,10.2.0.0/16")]
    public async Task The_manifest_has_no_executable_no_machine_path_no_emulator_and_the_secrets_as_parameters(
        string postgres, string networks)
    {
        var manifest = await PublishAsync([$"MindJourney:Postgres={postgres}",
            .. networks.Split(',', StringSplitOptions.RemoveEmptyEntries)
                .Select((network, i) => $"MindJourney:ForwardedHeaders:KnownNetworks:{i}={network}")]);
        var resources = manifest.GetProperty("resources");

        Assert.DoesNotContain(resources.EnumerateObject(), r => r.Value.GetProperty("type").GetString() == "executable.v0");
        Assert.DoesNotContain(resources.EnumerateObject(), r => r.Name.StartsWith("firebase-storage", StringComparison.Ordinal)
            && r.Value.GetProperty("type").GetString() != "parameter.v0");
        var repository = Path.GetFullPath(Path.Combine(Projects.MindJourney_AppHost.ProjectPath, "..", ".."));
        foreach (var (where, text) in Strings(resources, "resources"))
        {
            if (where.EndsWith(".path", StringComparison.Ordinal))
            {
                // A project's path is how the deployment tool finds the code: relative to the manifest, never rooted.
                Assert.False(Path.IsPathRooted(text), $"{where} is rooted: {text}");
                continue;
            }

            Assert.DoesNotContain(repository, text, StringComparison.Ordinal);
            Assert.DoesNotContain("/var/tmp", text, StringComparison.Ordinal);
            if (where.EndsWith(".target", StringComparison.Ordinal))
            {
                continue; // a volume's mount point inside the container
            }

            foreach (var word in text.Split([' ', ';', '=', ','], StringSplitOptions.RemoveEmptyEntries))
            {
                Assert.False(word.StartsWith('/') && word.Length > 1 && (File.Exists(word) || Directory.Exists(word)),
                    $"{where} names a path of this machine: {word}");
            }
        }

        var api = resources.GetProperty("api");
        Assert.Equal("project.v0", api.GetProperty("type").GetString());
        var env = api.GetProperty("env").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        Assert.DoesNotContain(resources.EnumerateObject(), r => r.Value.TryGetProperty("env", out var e)
            && (e.TryGetProperty("STORAGE_EMULATOR_HOST", out _) || e.TryGetProperty("ASPNETCORE_FORWARDEDHEADERS_ENABLED", out _)));
        Assert.Equal("Production", env["ASPNETCORE_ENVIRONMENT"]);
        Assert.DoesNotContain(env, e => e.Key.StartsWith("MindJourney__RateLimit__", StringComparison.Ordinal));
        // Development's per-client limits off stay out of a deployment: the upload byte budget keeps its default.
        Assert.DoesNotContain(env, e => e.Key.StartsWith("MindJourney__Storage__", StringComparison.Ordinal));
        // Production keeps .NET's server defaults and exports every trace unless told otherwise.
        Assert.DoesNotContain(env, e => e.Key.StartsWith("DOTNET_", StringComparison.Ordinal));
        Assert.DoesNotContain(env, e => e.Key.StartsWith("MindJourney__Telemetry__", StringComparison.Ordinal));
        Assert.True(api.GetProperty("bindings").GetProperty("http").GetProperty("external").GetBoolean());

        AssertSecretParameter(resources, env["Admin__ApiKey"]);
        AssertSecretParameter(resources, env["MindJourney__Idempotency__SigningKey"]);
        AssertSecretParameter(resources, env["MindJourney__Pilot__SigningKey"]);
        AssertSecretParameter(resources, env["FIREBASE_SERVICE_ACCOUNT_KEY"]);
        var bucket = Parameter(resources, env["FIREBASE_STORAGE_BUCKET"]);
        Assert.False(bucket.TryGetProperty("default", out _), "the bucket is the deployment's to name");
        var database = resources.GetProperty("mindjourney");
        if (postgres == "external")
        {
            Assert.Equal("{mindjourney.connectionString}", env["ConnectionStrings__mindjourney"]);
            AssertSecretParameter(resources, "{mindjourney.value}");
        }
        else
        {
            Assert.Equal("container.v0", resources.GetProperty("postgres").GetProperty("type").GetString());
            Assert.Contains("{postgres.connectionString}", database.GetProperty("connectionString").GetString(), StringComparison.Ordinal);
            Assert.Equal("mindjourney-postgres-data",
                Assert.Single(resources.GetProperty("postgres").GetProperty("volumes").EnumerateArray()).GetProperty("name").GetString());
            AssertSecretParameter(resources, env["MINDJOURNEY_PASSWORD"]);
        }

        // Forwarded headers: believed only from the proxies the deployment names, none unless it does.
        Assert.Equal("", DefaultOf(resources, env["MindJourney__ForwardedHeaders__KnownProxies"]));
        Assert.Equal(networks, DefaultOf(resources, env["MindJourney__ForwardedHeaders__KnownNetworks"]));
        Assert.DoesNotContain(env, e => e.Key.StartsWith("MindJourney__ForwardedHeaders__KnownNetworks__", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Publish_mode_asks_for_the_replicas_and_the_health_probes_and_run_mode_is_unchanged()
    {
        await using var published = await LocalAppHost.DescribeAsync(
            ["--operation", "publish", "--publisher", "manifest", "MindJourney:ApiReplicas=3"]);
        var api = Assert.Single(published.Resources, r => r.Name == "api");
        Assert.True(published.ExecutionContext.IsPublishMode);
        Assert.Equal(3, api.Annotations.OfType<ReplicaAnnotation>().Single().Replicas);
        Assert.Equal(new HashSet<ProbeType> { ProbeType.Liveness, ProbeType.Readiness },
            api.Annotations.OfType<ProbeAnnotation>().Select(p => p.Type).ToHashSet());

        await using var run = await LocalAppHost.DescribeAsync(
            ["MindJourney:Postgres=local", "MindJourney:ApiReplicas=3"]);
        var runApi = Assert.Single(run.Resources, r => r.Name == "api");
        Assert.Empty(runApi.Annotations.OfType<ProbeAnnotation>());
        Assert.Empty(runApi.Annotations.OfType<DisableForwardedHeadersAnnotation>());
        Assert.Contains(run.Resources, r => r.Name == "firebase-storage");
    }

    /// <summary>Runs the built AppHost as the issue's command does and reads what it wrote.</summary>
    private static async Task<JsonElement> PublishAsync(string[] settings)
    {
        var folder = Directory.CreateTempSubdirectory("mindjourney-manifest-");
        try
        {
            var output = Path.Combine(folder.FullName, "aspire-manifest.json");
            var start = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var arg in (string[])["run", "--no-build", "-c", Configuration, "--project", Projects.MindJourney_AppHost.ProjectPath,
                         "--", "--publisher", "manifest", "--output-path", output, .. settings])
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start)!;
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(process.ExitCode == 0, $"publishing failed: {await stdout}{await stderr}");
            using var document = JsonDocument.Parse(await File.ReadAllTextAsync(output));
            return document.RootElement.Clone();
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private static IEnumerable<(string Where, string Text)> Strings(JsonElement element, string where) => element.ValueKind switch
    {
        JsonValueKind.String => [(where, element.GetString()!)],
        JsonValueKind.Object => element.EnumerateObject().SelectMany(p => Strings(p.Value, $"{where}.{p.Name}")),
        JsonValueKind.Array => element.EnumerateArray().SelectMany((e, i) => Strings(e, $"{where}[{i}]")),
        _ => [],
    };

    /// <summary>The input of the parameter an environment value refers to, whole (<c>{name.value}</c>).</summary>
    private static JsonElement Parameter(JsonElement resources, string reference)
    {
        var match = ParameterReference().Match(reference);
        Assert.True(match.Success, $"'{reference}' is not a parameter reference");
        var parameter = resources.GetProperty(match.Groups[1].Value);
        Assert.Equal("parameter.v0", parameter.GetProperty("type").GetString());
        return parameter.GetProperty("inputs").GetProperty("value");
    }

    private static string? DefaultOf(JsonElement resources, string reference) =>
        Parameter(resources, reference).GetProperty("default").GetProperty("value").GetString();

    private static void AssertSecretParameter(JsonElement resources, string reference) =>
        Assert.True(Parameter(resources, reference).GetProperty("secret").GetBoolean(), $"{reference} is not secret");

    [GeneratedRegex(@"^\{([a-z0-9-]+)\.value\}$")]
    private static partial Regex ParameterReference();
}
