namespace MindJourney.Api.Infrastructure;

/// <summary>The database could not be reached (or would not take a connection): nothing was read or written, and
/// the client may retry. <see cref="ApiExceptionHandler"/> answers 503 with Retry-After.</summary>
public sealed class DatabaseUnavailableException(Exception innerException)
    : Exception("The database cannot be reached.", innerException);
