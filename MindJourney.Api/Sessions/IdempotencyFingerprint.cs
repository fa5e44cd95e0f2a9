using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace MindJourney.Api.Sessions;

/// <summary>What an Idempotency-Key was first sent with: the user (or none), the experiment and the body (mode included). A replay
/// must carry the same, or it is another request under a reused key and gets nothing of the first one.</summary>
public static class IdempotencyFingerprint
{
    public static byte[] Of(Guid experimentId, Guid? userId, int currentLevel, string? branchingPath, string? sessionDataJson, string mode,
        RecruitmentInput? recruitment = null)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> fixedPart = stackalloc byte[37];
        experimentId.TryWriteBytes(fixedPart[..16]);
        (userId ?? Guid.Empty).TryWriteBytes(fixedPart[16..32]);
        fixedPart[32] = userId is null ? (byte)0 : (byte)1;
        BinaryPrimitives.WriteInt32BigEndian(fixedPart[33..], currentLevel);
        hash.AppendData(fixedPart);
        AppendText(hash, branchingPath);
        AppendText(hash, sessionDataJson);

        // Only a pilot adds its mode, so the keys of live requests still in flight across a deploy keep matching.
        if (mode != Data.SessionModes.Live)
        {
            AppendText(hash, mode);
        }

        // Only a recruited request adds its ids: the same key with another person's ids is another request.
        if (recruitment is not null)
        {
            AppendText(hash, "recruitment");
            AppendText(hash, recruitment.Source);
            AppendText(hash, recruitment.ParticipantId);
            AppendText(hash, recruitment.StudyId);
            AppendText(hash, recruitment.SessionId);
        }

        return hash.GetHashAndReset();
    }

    /// <summary>Length-prefixed, with null apart from empty, so no two different bodies hash alike by concatenation
    /// (answers' fingerprints use it too).</summary>
    internal static void AppendText(IncrementalHash hash, string? text)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, text is null ? -1 : Encoding.UTF8.GetByteCount(text));
        hash.AppendData(length);
        if (text is not null)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(text));
        }
    }
}
