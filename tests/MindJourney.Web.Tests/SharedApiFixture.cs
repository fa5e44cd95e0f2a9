using MindJourney.Testing;

namespace MindJourney.Web.Tests;

/// <summary>
/// The API that most browser tests share: one database, one storage emulator, one host on real Kestrel, started on
/// first use. Tests that use it assert on their own visitors only (numbers relative to each other, rows by id);
/// a test that changes the database's state (the sequence) or needs storage to be absent starts its own.
/// </summary>
public sealed class SharedApiFixture : IAsyncLifetime
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private TestStorage? _storage;
    private TestApi? _api;

    public async Task<TestApi> GetAsync(PostgresServer postgres)
    {
        await _gate.WaitAsync();
        try
        {
            if (_api is null)
            {
                _storage ??= await TestStorage.StartAsync();
                _api = await TestApi.StartAsync(postgres, storage: _storage);
            }

            return _api;
        }
        finally
        {
            _gate.Release();
        }
    }

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_api is not null)
        {
            await _api.DisposeAsync();
        }

        if (_storage is not null)
        {
            await _storage.DisposeAsync();
        }

        _gate.Dispose();
    }
}
