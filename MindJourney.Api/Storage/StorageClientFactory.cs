using Google.Api.Gax;
using Google.Apis.Auth.OAuth2;
using Google.Cloud.Storage.V1;

namespace MindJourney.Api.Storage;

/// <summary>Builds the one <see cref="StorageClient"/> the process uses for its <see cref="StorageTarget"/>, or none
/// when no storage is configured.</summary>
internal static class StorageClientFactory
{
    public static StorageClient? Create(StorageTarget target, IConfiguration configuration) => target.Mode switch
    {
        StorageMode.Emulator => CreateEmulatorClient(target.EmulatorHost!),
        StorageMode.Firebase => new StorageClientBuilder
        {
            EmulatorDetection = EmulatorDetection.EmulatorOrProduction,
            GoogleCredential = ServiceAccountKey.Credential(configuration[StorageTarget.ServiceAccountKeyKey]),
        }.Build(),
        _ => null,
    };

    private static StorageClient CreateEmulatorClient(string hostAndPort)
    {
        // EmulatorDetection reads the process environment only. When the variable came from there (the AppHost
        // sets it), let the library do what it documents; when it came from another configuration source (a
        // test host, appsettings), build the same thing by hand: the root URI over plain HTTP, no credentials.
        if (string.Equals(Environment.GetEnvironmentVariable(StorageTarget.EmulatorHostKey)?.Trim(), hostAndPort,
            StringComparison.Ordinal))
        {
            return new StorageClientBuilder { EmulatorDetection = EmulatorDetection.EmulatorOrProduction }.Build();
        }

        return new StorageClientBuilder { BaseUri = $"http://{hostAndPort}/", UnauthenticatedAccess = true }.Build();
    }
}
