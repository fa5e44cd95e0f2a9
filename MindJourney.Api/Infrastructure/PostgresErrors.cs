using Npgsql;

namespace MindJourney.Api.Infrastructure;

/// <summary>What a PostgreSQL error says about who caused it. <see cref="StoredInput"/> refuses client data before
/// it reaches the database; this is the net behind it, so that data PostgreSQL refuses is the client's 400 and
/// never a 500 or a numbering failure (which would run the fallback).</summary>
public static class PostgresErrors
{
    /// <summary>True when PostgreSQL refused a value the client sent: text it cannot hold (NUL, invalid UTF-8),
    /// JSON its jsonb refuses, a number its numeric cannot hold, a value too long or too deep for it. False for
    /// everything that can be a numbering failure: the sequence's limit (2200H), a taken number (23505) and an
    /// integer overflow such as the <c>::int</c> of nextval (22003 outside numeric input).</summary>
    public static bool IsCausedByClientData(PostgresException ex) => ex.SqlState switch
    {
        PostgresErrorCodes.CharacterNotInRepertoire => true,            // 22021: NUL or invalid UTF-8 in text
        PostgresErrorCodes.UntranslatableCharacter => true,             // 22P05: \u0000 in jsonb
        PostgresErrorCodes.InvalidTextRepresentation => true,           // 22P02: jsonb refused (a lone surrogate escape)
        PostgresErrorCodes.StringDataRightTruncation => true,           // 22001: longer than a varchar column
        PostgresErrorCodes.ProgramLimitExceeded => true,                // 54000: e.g. an index row too large
        PostgresErrorCodes.StatementTooComplex => true,                 // 54001: stack depth, e.g. deeply nested jsonb
        // The same code serves integer overflow (int8.c), which is the numbering's own; only numeric input
        // (a JSON number) is the client's.
        PostgresErrorCodes.NumericValueOutOfRange => ex.File == "numeric.c",
        _ => false,
    };
}
