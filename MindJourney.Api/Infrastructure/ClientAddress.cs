using System.Net;
using System.Net.Sockets;

namespace MindJourney.Api.Infrastructure;

/// <summary>Who a client is, for per-client limits: its address as the forwarded-headers middleware resolved it
/// (only trusted proxies may change it). An IPv6 client controls a whole /64, so it counts as one client.</summary>
public static class ClientAddress
{
    public static string PartitionKey(HttpContext http) => PartitionKey(http.Connection.RemoteIpAddress);

    public static string PartitionKey(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes).ToString() + "/64";
    }
}
