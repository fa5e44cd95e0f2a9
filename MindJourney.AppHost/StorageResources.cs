using Microsoft.Extensions.Configuration;
using MindJourney.AppHost.LocalPostgres;

namespace MindJourney.AppHost;

/// <summary>
/// Where uploads go, chosen by <c>MindJourney:StorageEmulator</c>:
/// <list type="bullet">
/// <item><c>mindjourney</c> (default): our emulator (MindJourney.StorageEmulator) on 127.0.0.1:9199, the Firebase
/// emulator's port, not proxied, its objects kept under the AppHost data folder.</item>
/// <item><c>firebase-tools</c>: the official emulator (<c>firebase emulators:start --only storage</c>, pinned in
/// package.json beside firebase.json and storage.rules). Needs Java 21 and internet at its first start, which our
/// machines lack; wired for machines that have them.</item>
/// <item><c>none</c>: no emulator. The API gets <c>FIREBASE_STORAGE_BUCKET</c> and <c>FIREBASE_SERVICE_ACCOUNT_KEY</c>
/// from the AppHost parameters <c>firebase-storage-bucket</c> and <c>firebase-service-account-key</c> (secret) when
/// they are set; without them uploads are kept pending in the database.</item>
/// </list>
/// A published manifest has no emulator whatever the setting: the bucket and the key are always its parameters.
/// </summary>
internal static class StorageResources
{
    public const string ResourceName = "firebase-storage";
    public const int FirebaseEmulatorPort = 9199;

    public const string BucketParameter = "firebase-storage-bucket";
    public const string ServiceAccountKeyParameter = "firebase-service-account-key";

    /// <summary>Adds the storage emulator the settings ask for; null for <c>none</c> and in publish mode.</summary>
    public static IResourceBuilder<IResourceWithEndpoints>? AddFirebaseStorage(this IDistributedApplicationBuilder builder)
    {
        var mode = (builder.Configuration["MindJourney:StorageEmulator"] ?? "mindjourney").Trim().ToLowerInvariant();
        // Checked first, publishing included: a misspelt value must not quietly mean no emulator.
        if (mode is not ("mindjourney" or "firebase-tools" or "none"))
        {
            throw new DistributedApplicationException(
                $"MindJourney:StorageEmulator is '{mode}'; use mindjourney, firebase-tools or none.");
        }

        if (builder.ExecutionContext.IsPublishMode)
        {
            return null;
        }

        var port = builder.Configuration.GetValue("MindJourney:StorageEmulatorPort", FirebaseEmulatorPort);
        return mode switch
        {
            "mindjourney" => builder.AddProject<Projects.MindJourney_StorageEmulator>(ResourceName, o => o.ExcludeLaunchProfile = true)
                .WithHttpEndpoint(port: port, targetPort: port, isProxied: false)
                .WithEndpoint("http", e => e.TargetHost = "127.0.0.1")
                .WithEnvironment("Storage__DataPath", Path.Combine(LocalPostgresBuilderExtensions.DataRoot(builder), "storage"))
                .WithHttpHealthCheck("/health")
                .WithIconName("Storage"),
            "firebase-tools" => builder.AddOfficialEmulator(port),
            _ => null,
        };
    }

    /// <summary>Points the API at the emulator (<c>STORAGE_EMULATOR_HOST</c> + a development bucket) and waits for
    /// it, or, with no emulator, hands it the production bucket and key when the AppHost has them (always when
    /// publishing: the deployment asks for them).</summary>
    public static IResourceBuilder<ProjectResource> WithFirebaseStorage(this IResourceBuilder<ProjectResource> api,
        IResourceBuilder<IResourceWithEndpoints>? emulator)
    {
        var builder = api.ApplicationBuilder;
        if (emulator is not null)
        {
            var endpoint = emulator.GetEndpoint("http");
            return api
                .WithEnvironment(
                    "STORAGE_EMULATOR_HOST", ReferenceExpression.Create($"127.0.0.1:{endpoint.Property(EndpointProperty.Port)}"))
                .WithEnvironment("FIREBASE_STORAGE_BUCKET",
                    builder.Configuration["MindJourney:StorageBucket"] ?? ResourceNames.DevelopmentBucket)
                .WaitFor(emulator);
        }

        var publishing = builder.ExecutionContext.IsPublishMode;
        if (publishing || builder.Configuration[$"Parameters:{BucketParameter}"] is { Length: > 0 })
        {
            api.WithEnvironment("FIREBASE_STORAGE_BUCKET", builder.AddParameter(BucketParameter));
        }

        if (publishing || builder.Configuration[$"Parameters:{ServiceAccountKeyParameter}"] is { Length: > 0 })
        {
            api.WithEnvironment("FIREBASE_SERVICE_ACCOUNT_KEY", builder.AddParameter(ServiceAccountKeyParameter, secret: true));
        }

        return api;
    }

    /// <summary>firebase-tools from the npm registry (version pinned in package.json), installed by a one-shot
    /// <c>npm install</c> resource, then <c>npm run storage-emulator</c>; firebase.json fixes the port (9199).</summary>
    private static IResourceBuilder<IResourceWithEndpoints> AddOfficialEmulator(this IDistributedApplicationBuilder builder, int port)
    {
        var folder = builder.AppHostDirectory;
        var install = builder.AddExecutable($"{ResourceName}-install", "npm", folder, "install", "--no-audit", "--no-fund");
        return builder.AddExecutable(ResourceName, "npm", folder, "run", "storage-emulator")
            .WithHttpEndpoint(port: port, targetPort: port, isProxied: false)
            .WaitForCompletion(install);
    }
}
