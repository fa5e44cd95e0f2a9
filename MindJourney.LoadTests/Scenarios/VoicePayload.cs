namespace MindJourney.LoadTests.Scenarios;

/// <summary>
/// The bytes of the n-th upload: a WebM (EBML) magic number, then deterministic filler seeded by the ordinal, so the
/// verifier can rebuild exactly what was sent without keeping it.
/// </summary>
public static class VoicePayload
{
    public const int DefaultSize = 4096;
    public const string ContentType = "audio/webm";

    private static readonly byte[] EbmlMagic = [0x1A, 0x45, 0xDF, 0xA3];

    public static byte[] Create(int ordinal, int size = DefaultSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, EbmlMagic.Length);
        var bytes = new byte[size];
        EbmlMagic.CopyTo(bytes, 0);
        var state = ((uint)ordinal * 2654435761u ^ 0x9E3779B9u) | 1u;
        for (var i = EbmlMagic.Length; i < size; i++)
        {
            // xorshift32
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            bytes[i] = (byte)state;
        }

        return bytes;
    }
}
