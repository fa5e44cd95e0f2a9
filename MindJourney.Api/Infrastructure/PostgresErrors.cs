using Npgsql;

namespace MindJourney.Api.Infrastructure;

/// <summary>PostgreSQL errors that mean the client's data was refused, not that the server failed.</summary>
public static class PostgresErrors
{
    public static bool IsCausedByClientData(PostgresException ex) =>
        ex.SqlState is PostgresErrorCodes.CharacterNotInRepertoire or PostgresErrorCodes.UntranslatableCharacter;
}
