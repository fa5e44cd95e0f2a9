using Google.Apis.Auth.OAuth2;

namespace MindJourney.Api.Storage;

/// <summary>The credentials Firebase Storage is reached with: FIREBASE_SERVICE_ACCOUNT_KEY holds the key's JSON or a
/// path to it (as the original platform took it); without it, Application Default Credentials. The key never
/// reaches a log or an exception message.</summary>
internal static class ServiceAccountKey
{
    /// <summary>The key's credential, or null for Application Default Credentials.</summary>
    public static GoogleCredential? Credential(string? serviceAccountKey)
    {
        if (string.IsNullOrWhiteSpace(serviceAccountKey))
        {
            return null;
        }

        var json = serviceAccountKey.TrimStart().StartsWith('{')
            ? serviceAccountKey
            : File.Exists(serviceAccountKey.Trim())
                ? File.ReadAllText(serviceAccountKey.Trim())
                : throw new InvalidOperationException(
                    $"{StorageTarget.ServiceAccountKeyKey} is neither a service account key (JSON) nor the path of an existing file.");
        try
        {
            return CredentialFactory.FromJson<ServiceAccountCredential>(json).ToGoogleCredential();
        }
        catch (Exception)
        {
            // The library's message may quote the input: say what is wrong without it.
            throw new InvalidOperationException($"{StorageTarget.ServiceAccountKeyKey} is not a valid service account key.");
        }
    }
}
