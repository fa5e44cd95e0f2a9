using MindJourney.Testing;

namespace MindJourney.Api.Tests;

/// <summary>One real PostgreSQL server for every API test class; each test takes a fresh database from it.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "postgres";
}
