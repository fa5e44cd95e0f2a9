namespace MindJourney.Api.Infrastructure;

/// <summary>The database did not answer a participant's request within <see cref="DatabaseDeadline"/>: what was sent
/// may still be stored, so the client retries with the same Idempotency-Key. <see cref="ApiExceptionHandler"/> answers
/// 503 with Retry-After, as for <see cref="DatabaseUnavailableException"/>.</summary>
public sealed class DatabaseDeadlineException(TimeSpan limit)
    : Exception($"The database did not answer within {limit.TotalSeconds} s.");
