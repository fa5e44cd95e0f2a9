namespace MindJourney.Api.Storage;

/// <summary>A session is at one of its limits (<see cref="StorageOptions"/>): the response is refused, nothing is
/// written.</summary>
public sealed class SessionQuotaExceededException(int statusCode, string detail) : Exception(detail)
{
    public int StatusCode { get; } = statusCode;
}
