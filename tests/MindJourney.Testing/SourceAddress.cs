using System.Net;
using System.Net.Sockets;

namespace MindJourney.Testing;

/// <summary>HTTP clients whose connections leave from a chosen loopback address (127.0.0.2, 127.0.0.3, ::1), so one
/// machine can stand for several clients: on Linux every 127.x.x.x address belongs to the loopback interface.</summary>
public static class SourceAddress
{
    /// <summary>A client of <paramref name="server"/> (any loopback URL; only its port is used) that connects from
    /// <paramref name="source"/> to the loopback address of the same family.</summary>
    public static HttpClient Client(Uri server, string source)
    {
        var local = IPAddress.Parse(source);
        var target = local.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(local.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(local, 0));
                    await socket.ConnectAsync(new IPEndPoint(target, server.Port), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new HttpClient(handler) { BaseAddress = new UriBuilder("http", target.ToString(), server.Port).Uri };
    }
}
