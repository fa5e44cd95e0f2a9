using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace MindJourney.AppHost.Tests;

/// <summary>
/// Stands in for the dashboard's OTLP/gRPC endpoint (HTTP/2 without TLS, as the dashboard's on loopback): keeps every
/// metrics export it is sent and answers each, like every other export, with an empty success. The exports stay
/// protobuf; a metric's name is in them as UTF-8, which is all a test here asks.
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private const string MetricsExport = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<byte[]> _metricsExports = new();

    private OtlpReceiver(WebApplication app) => _app = app;

    public Uri Url => new(_app.Urls.Single());

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        var receiver = new OtlpReceiver(builder.Build());
        receiver._app.MapPost("/{**export}", receiver.ReceiveAsync);
        await receiver._app.StartAsync();
        return receiver;
    }

    /// <summary>Waits, boundedly, for a metrics export naming every one of <paramref name="texts"/>.</summary>
    public async Task WaitForMetricsAsync(string[] texts, CancellationToken cancellationToken)
    {
        var wanted = texts.Select(Encoding.UTF8.GetBytes).ToArray();
        while (!_metricsExports.Any(export => wanted.All(text => export.AsSpan().IndexOf(text) >= 0)))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
        }
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task ReceiveAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        if (context.Request.Path == MetricsExport)
        {
            _metricsExports.Enqueue(body.ToArray());
        }

        context.Response.ContentType = "application/grpc";
        context.Response.AppendTrailer("grpc-status", "0");
        // One empty message: not compressed, length 0 (an empty Export…ServiceResponse).
        await context.Response.Body.WriteAsync(new byte[5], context.RequestAborted);
    }
}
