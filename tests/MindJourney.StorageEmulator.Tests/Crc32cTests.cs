using System.Text;

namespace MindJourney.StorageEmulator.Tests;

public sealed class Crc32cTests
{
    // Bit-by-bit reference implementation (independent of the emulator's).
    private static uint Reference(byte[] data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var i = 0; i < 8; i++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
            }
        }

        return ~crc;
    }

    [Fact]
    public void KnownVectors()
    {
        Assert.Equal(0xE3069283u, Crc32c.Compute(Encoding.ASCII.GetBytes("123456789")));
        Assert.Equal(0u, Crc32c.Compute([]));
        var hasher = new Crc32c();
        hasher.Append(Encoding.ASCII.GetBytes("hello "));
        hasher.Append(Encoding.ASCII.GetBytes("world"));
        Assert.Equal("yZRlqg==", hasher.ToBase64());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(1001)]
    public void MatchesReference_InPieces(int length)
    {
        var data = StorageFixture.RandomBytes(length, seed: length);
        var hasher = new Crc32c();
        hasher.Append(data.AsSpan(0, length / 3));
        hasher.Append(data.AsSpan(length / 3));
        Assert.Equal(Reference(data), hasher.Value);
    }
}
