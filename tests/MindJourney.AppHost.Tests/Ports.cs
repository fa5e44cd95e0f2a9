using System.Net;
using System.Net.Sockets;

namespace MindJourney.AppHost.Tests;

internal static class Ports
{
    /// <summary>A loopback port nobody listens on now: AppHosts started by tests in parallel, or a developer's own
    /// on the default ports, must not collide.</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
