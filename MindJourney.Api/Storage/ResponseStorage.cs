using System.Net;
using Google;
using Google.Api.Gax;
using Google.Apis.Auth.OAuth2;
using Google.Cloud.Storage.V1;
using Npgsql;
using StorageObject = Google.Apis.Storage.v1.Data.Object;

namespace MindJourney.Api.Storage;

/// <summary>The object already exists with other bytes: never overwritten, the delivery stays pending.</summary>
public sealed class StorageConflictException(string message) : Exception(message);

/// <summary>
/// Firebase Storage (a GCS bucket) through one <see cref="StorageClient"/> for the whole process, or nothing when
/// no storage is configured. Every write is conditional (<c>ifGenerationMatch=0</c>): an upload repeated after a
/// lost answer finds its own object and counts as delivered, and nothing is ever overwritten.
/// </summary>
public sealed partial class ResponseStorage : IDisposable
{
    private readonly StorageClient? _client;
    private readonly NpgsqlDataSource _dataSource;
    private readonly ILogger<ResponseStorage> _logger;

    public ResponseStorage(StorageTarget target, IConfiguration configuration, NpgsqlDataSource dataSource, ILogger<ResponseStorage> logger)
    {
        Target = target;
        _dataSource = dataSource;
        _logger = logger;
        _client = target.Mode switch
        {
            StorageMode.Emulator => CreateEmulatorClient(target.EmulatorHost!),
            StorageMode.Firebase => CreateFirebaseClient(configuration[StorageTarget.ServiceAccountKeyKey]),
            _ => null,
        };
    }

    public StorageTarget Target { get; }

    public bool IsConfigured => _client is not null;

    private StorageClient Client => _client ?? throw new InvalidOperationException("No storage is configured.");

    private string Bucket => Target.Bucket!;

    private static StorageClient CreateEmulatorClient(string hostAndPort)
    {
        // EmulatorDetection reads the process environment only. When the variable came from there (the AppHost
        // sets it), let the library do what it documents; when it came from another configuration source (a
        // test host, appsettings), build the same thing by hand: the root URI over plain HTTP, no credentials.
        if (string.Equals(Environment.GetEnvironmentVariable(StorageTarget.EmulatorHostKey)?.Trim(), hostAndPort, StringComparison.Ordinal))
        {
            return new StorageClientBuilder { EmulatorDetection = EmulatorDetection.EmulatorOrProduction }.Build();
        }

        return new StorageClientBuilder { BaseUri = $"http://{hostAndPort}/", UnauthenticatedAccess = true }.Build();
    }

    /// <summary>FIREBASE_SERVICE_ACCOUNT_KEY holds the key's JSON or a path to it (as the original platform took
    /// it); without it, Application Default Credentials. The key never reaches a log or an exception message.</summary>
    private static StorageClient CreateFirebaseClient(string? serviceAccountKey)
    {
        GoogleCredential? credential = null;
        if (!string.IsNullOrWhiteSpace(serviceAccountKey))
        {
            var json = serviceAccountKey.TrimStart().StartsWith('{')
                ? serviceAccountKey
                : File.Exists(serviceAccountKey.Trim())
                    ? File.ReadAllText(serviceAccountKey.Trim())
                    : throw new InvalidOperationException(
                        $"{StorageTarget.ServiceAccountKeyKey} is neither a service account key (JSON) nor the path of an existing file.");
            try
            {
                credential = CredentialFactory.FromJson<ServiceAccountCredential>(json).ToGoogleCredential();
            }
            catch (Exception)
            {
                // The library's message may quote the input: say what is wrong without it.
                throw new InvalidOperationException($"{StorageTarget.ServiceAccountKeyKey} is not a valid service account key.");
            }
        }

        return new StorageClientBuilder
        {
            EmulatorDetection = EmulatorDetection.EmulatorOrProduction,
            GoogleCredential = credential,
        }.Build();
    }

    /// <summary>Creates the object unless it exists; an existing object with the same bytes (an earlier attempt
    /// whose answer was lost) counts as this upload. Throws <see cref="StorageConflictException"/> when other
    /// bytes are there, and the client's exceptions when storage cannot be reached.</summary>
    internal async Task<StorageObject> UploadAsync(DeliveryItem item, Stream content, CancellationToken cancellationToken)
    {
        var destination = new StorageObject
        {
            Bucket = Bucket,
            Name = item.ObjectName,
            ContentType = item.ContentType,
            Metadata = item.Metadata(),
        };
        try
        {
            return await Client.UploadObjectAsync(
                destination, content, new UploadObjectOptions { IfGenerationMatch = 0 }, cancellationToken);
        }
        catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.PreconditionFailed)
        {
            var existing = await Client.GetObjectAsync(Bucket, item.ObjectName, cancellationToken: cancellationToken);
            if (existing.Md5Hash == item.Md5Hash && existing.Size == (ulong)item.SizeBytes)
            {
                LogAlreadyThere(_logger, item.ResponseId);
                return existing;
            }

            throw new StorageConflictException("The object already exists in storage with other content.");
        }
    }

    /// <summary>The object's current description, or null when it is not in storage.</summary>
    internal async Task<StorageObject?> FindAsync(string objectName, CancellationToken cancellationToken)
    {
        try
        {
            return await Client.GetObjectAsync(Bucket, objectName, cancellationToken: cancellationToken);
        }
        catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    internal Task DownloadAsync(StorageObject storageObject, Stream destination, CancellationToken cancellationToken) =>
        Client.DownloadObjectAsync(storageObject, destination, cancellationToken: cancellationToken);

    /// <summary>
    /// Sets the <c>visitorNumber</c> metadata of a stored object (the other keys stay as they are), after the admin
    /// recovery back-filled the number of its response. True when the object now carries it. False when the object
    /// is not in storage yet (its delivery still pending reads the current number when it runs) or storage cannot
    /// be reached right now: the storage worker then patches it later, as it does for every stored object whose
    /// metadata lags its response row.
    /// </summary>
    public async Task<bool> UpdateVisitorNumberAsync(string objectName, int visitorNumber, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(objectName);
        if (!IsConfigured)
        {
            return false;
        }

        try
        {
            await PatchVisitorNumberAsync(objectName, visitorNumber, cancellationToken);
        }
        catch (GoogleApiException ex) when (ex.HttpStatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
        catch (Exception ex) when (IsUnavailable(ex) && !cancellationToken.IsCancellationRequested)
        {
            LogPatchDeferred(_logger, ex.GetType().Name);
            return false;
        }

        await using var command = _dataSource.CreateCommand(
            "UPDATE experiment_responses SET object_visitor_number = $2 WHERE file_id = $1 AND storage_status = 'stored'");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = objectName });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = visitorNumber });
        await command.ExecuteNonQueryAsync(cancellationToken);
        return true;
    }

    internal Task PatchVisitorNumberAsync(string objectName, int? visitorNumber, CancellationToken cancellationToken) =>
        // PATCH merges custom metadata: only this key changes.
        Client.PatchObjectAsync(new StorageObject
        {
            Bucket = Bucket,
            Name = objectName,
            Metadata = new Dictionary<string, string> { ["visitorNumber"] = DeliveryItem.VisitorNumberText(visitorNumber) },
        }, cancellationToken: cancellationToken);

    /// <summary>Reachable and answering for the bucket: a missing object is a fine answer.</summary>
    internal async Task ProbeAsync(CancellationToken cancellationToken)
    {
        _ = await FindAsync(".mindjourney-health-probe", cancellationToken);
    }

    /// <summary>Storage is down, slow or refusing for now (as opposed to a bug or a conflict).</summary>
    internal static bool IsUnavailable(Exception ex) => ex is HttpRequestException or IOException or TimeoutException
        or OperationCanceledException or GoogleApiException or System.Net.Sockets.SocketException;

    /// <summary>Storage refused this request for what it is (400, 403, 404, ...), not for its own state: retrying
    /// soon would be refused again. 408 and 429 are storage asking for time.</summary>
    internal static bool IsRejection(Exception ex) => ex is GoogleApiException { HttpStatusCode: var status }
        && (int)status is >= 400 and < 500 && status is not HttpStatusCode.RequestTimeout and not HttpStatusCode.TooManyRequests;

    /// <summary>Writes the object's bytes from <paramref name="offset"/> on to <paramref name="destination"/>.</summary>
    internal Task DownloadFromAsync(string objectName, long offset, Stream destination, CancellationToken cancellationToken) =>
        Client.DownloadObjectAsync(Bucket, objectName, destination,
            new DownloadObjectOptions { Range = new System.Net.Http.Headers.RangeHeaderValue(offset, null) }, cancellationToken);

    public void Dispose() => _client?.Dispose();

    [LoggerMessage(Level = LogLevel.Debug,
        Message = "Upload of response {ResponseId} was already in storage (an earlier attempt's answer was lost); counted as delivered")]
    private static partial void LogAlreadyThere(ILogger logger, Guid responseId);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Could not update an object's visitor number now ({Error}); the storage worker will")]
    private static partial void LogPatchDeferred(ILogger logger, string error);
}
