using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MindJourney.AppHost.LocalPostgres;

namespace MindJourney.AppHost;

internal static partial class LoadTestResources
{
    public const string ResourceName = "loadtests";

    /// <summary>
    /// The load harness as a resource that starts only when asked (its start button in the dashboard), against the
    /// API by reference, with <c>MindJourney:LoadTest:Users</c>, <c>:Duration</c> and <c>:Scenario</c> (10, 30s,
    /// session) and, when set, <c>:Study</c> (a study's slug). Its exit code (0: every check and threshold passed) is
    /// the resource's final state, each run's reports go to a folder of their own under the data folder, and the admin
    /// key lets its journey scenario run the audit.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddLoadTests(this IDistributedApplicationBuilder builder,
        IResourceBuilder<ProjectResource> api, IResourceBuilder<ParameterResource> adminApiKey)
    {
        var settings = builder.Configuration.GetSection("MindJourney:LoadTest");
        var reports = Path.Combine(LocalPostgresBuilderExtensions.DataRoot(builder), "load-reports");
        return builder.AddProject<Projects.MindJourney_LoadTests>(ResourceName)
            .WithReference(api)
            .WithEnvironment("API_URL", ReferenceExpression.Create($"{api.GetEndpoint("http")}/api"))
            .WithEnvironment("ADMIN_API_KEY", adminApiKey)
            .WithArgs("--users", settings["Users"] ?? "10", "--duration", settings["Duration"] ?? "30s",
                "--scenario", settings["Scenario"] ?? "session")
            // One study by its slug; without it the harness plays in the most recently opened open study.
            .WithArgs(context =>
            {
                if (settings["Study"] is { Length: > 0 } study)
                {
                    context.Args.Add("--study");
                    context.Args.Add(study);
                }
            })
            // A folder per run, named when the run starts, as the harness does from a terminal: no run replaces another's.
            .WithArgs(context => context.Args.Add(
                $"--report-dir={Path.Combine(reports, DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture))}"))
            // Waits for the API to answer, not for it to be healthy in every respect: a load run against numbering the
            // dashboard shows Degraded is how one sees what it does under load, and the run's audit check says so.
            .WaitForStart(api)
            .OnBeforeResourceStarted(async (loadTests, e, cancellationToken) =>
            {
                LogWaitingForApi(e.Services.GetRequiredService<ResourceLoggerService>().GetLogger(loadTests), api.Resource.Name);
                await e.Services.GetRequiredService<ResourceNotificationService>()
                    .WaitForResourceAsync(api.Resource.Name, NumberingHealth.Answers, cancellationToken);
            })
            .WithExplicitStart()
            .WithIconName("TopSpeed")
            .ExcludeFromManifest(); // a development tool: a deployment runs the study, not load against it
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Waiting for resource '{Api}' to answer /health (Degraded numbering will do).")]
    private static partial void LogWaitingForApi(ILogger logger, string api);
}
