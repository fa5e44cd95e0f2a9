using System.Buffers.Binary;
using System.Numerics;

namespace MindJourney.StorageEmulator;

/// <summary>CRC-32C (Castagnoli), as Cloud Storage reports it: big-endian bytes, base64.
/// <see cref="BitOperations.Crc32C(uint, ulong)"/> uses the CPU's instruction where there is one.</summary>
internal sealed class Crc32c
{
    private uint _state = 0xFFFFFFFFu;

    public void Append(ReadOnlySpan<byte> data) => _state = Update(_state, data);

    public uint Value => ~_state;

    public string ToBase64()
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, Value);
        return Convert.ToBase64String(bytes);
    }

    public static uint Compute(ReadOnlySpan<byte> data) => ~Update(0xFFFFFFFFu, data);

    private static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= sizeof(ulong))
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[sizeof(ulong)..];
        }

        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return crc;
    }
}
