using MindJourney.Testing;

namespace MindJourney.Web.Tests;

/// <summary>One PostgreSQL server, one Chromium and one shared API (with its storage emulator) for every browser
/// test; a test that needs a database of its own takes a fresh one from the server. Each test uses fresh browser
/// contexts (own localStorage, own permissions).</summary>
[CollectionDefinition(Name)]
public sealed class BrowserCollection
    : ICollectionFixture<PostgresServer>, ICollectionFixture<ChromiumFixture>, ICollectionFixture<SharedApiFixture>
{
    public const string Name = "browser";
}
