using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MindJourney.Testing;

/// <summary>One instance of the real API (its real Program, middleware and database code) served by Kestrel on a
/// free loopback port, so requests cross a real HTTP stack with its real limits. Several hosts on one database
/// stand for several replicas.</summary>
public sealed class ApiHost : WebApplicationFactory<Program>
{
    private readonly string _connectionString;
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _services;
    private readonly bool _productionLimits;

    /// <summary>Tests drive hundreds of sessions, answers and uploads from one address, so the per-client limits are
    /// off unless a test asks for the production defaults. Every per-client limit the API has is listed here.</summary>
    public static readonly IReadOnlyDictionary<string, string?> PerClientLimitsOff = new Dictionary<string, string?>
    {
        ["MindJourney:RateLimit:SessionsPerWindow"] = "0",
        ["MindJourney:RateLimit:ResponsesPerWindow"] = "0",
        ["MindJourney:RateLimit:DownloadsPerWindow"] = "0",
        ["MindJourney:RateLimit:ReadsPerWindow"] = "0",
        ["MindJourney:RateLimit:SessionUpdatesPerWindow"] = "0",
        ["MindJourney:RateLimit:ResponsePagesPerWindow"] = "0",
        ["MindJourney:Storage:MaxUploadsInFlightPerClient"] = "0",
        ["MindJourney:Storage:UploadBytesPerClientPerHour"] = "0",
    };

    /// <summary>The API does not start without a key for its stored Idempotency-Keys and one for its pilot tokens;
    /// every test host has these unless a test sets its own.</summary>
    public static readonly IReadOnlyDictionary<string, string?> RequiredSettings = new Dictionary<string, string?>
    {
        ["MindJourney:Idempotency:SigningKey"] = "test-idempotency-signing-key-0123456789abcdef",
        ["MindJourney:Pilot:SigningKey"] = "test-pilot-signing-key-0123456789abcdef012345",
    };

    /// <summary>A test host starts serving at once: the numbering warm-up (its statements, its compile time) would run
    /// beside every test's own requests. WarmUpTests turn it on.</summary>
    public static readonly IReadOnlyDictionary<string, string?> WarmUpOff = new Dictionary<string, string?>
    {
        ["MindJourney:WarmUp:Enabled"] = "false",
    };

    /// <summary>What the database keeps of <paramref name="idempotencyKey"/> under the test hosts' signing key: its
    /// HMAC-SHA256, base64url (the API's IdempotencyKeyHasher).</summary>
    public static string StoredIdempotencyKey(string idempotencyKey) => System.Buffers.Text.Base64Url.EncodeToString(
        System.Security.Cryptography.HMACSHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes(RequiredSettings["MindJourney:Idempotency:SigningKey"]!),
            System.Text.Encoding.UTF8.GetBytes(idempotencyKey)));

    /// <param name="services">Added after the API's own services (an exporter a test reads, say).</param>
    /// <param name="productionLimits">Keep every limit at its production default (see <see cref="PerClientLimitsOff"/>).</param>
    public ApiHost(string connectionString, IReadOnlyDictionary<string, string?>? settings = null,
        Action<IServiceCollection>? services = null, bool productionLimits = false)
    {
        _connectionString = connectionString;
        _settings = settings ?? new Dictionary<string, string?>();
        _services = services;
        _productionLimits = productionLimits;
        UseKestrel(0);
    }

    /// <summary>Where the host listens, e.g. http://127.0.0.1:41234 (for browsers and the load harness).</summary>
    public Uri ServerAddress
    {
        get
        {
            StartServer();
            var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)
                .Replace("localhost", "127.0.0.1", StringComparison.Ordinal));
        }
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(Environments.Production);
        builder.UseSetting("ConnectionStrings:mindjourney", _connectionString);
        foreach (var (key, value) in RequiredSettings)
        {
            builder.UseSetting(key, value);
        }

        foreach (var (key, value) in WarmUpOff)
        {
            builder.UseSetting(key, value);
        }

        if (!_productionLimits)
        {
            foreach (var (key, value) in PerClientLimitsOff)
            {
                builder.UseSetting(key, value);
            }
        }

        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        if (_services is not null)
        {
            builder.ConfigureServices(_services);
        }
    }
}
