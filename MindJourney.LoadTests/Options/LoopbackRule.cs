using System.Net;

namespace MindJourney.LoadTests.Options;

/// <summary>Our rule: load goes only to loopback unless the user says --allow-remote.</summary>
public static class LoopbackRule
{
    /// <summary>True for <c>localhost</c> (and <c>*.localhost</c>), 127.0.0.0/8 and ::1. No DNS lookup is made.</summary>
    public static bool IsLoopback(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var host = url.IdnHost.TrimEnd('.');
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ||
            host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        var bare = host.Trim('[', ']');
        return IPAddress.TryParse(bare, out var ip) && IPAddress.IsLoopback(ip);
    }
}
