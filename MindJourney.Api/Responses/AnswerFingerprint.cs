using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using MindJourney.Api.Sessions;

namespace MindJourney.Api.Responses;

/// <summary>What an answer's Idempotency-Key was first sent with: the session, level, question, type and answer, and
/// for a file its size and MD5 (not its name: a retry may name the same bytes differently). A replay must carry the
/// same, or it is another answer under a reused key and learns nothing of the first.</summary>
public static class AnswerFingerprint
{
    public static byte[] Of(Guid sessionId, string levelId, string questionId, string responseType, string responseDataJson,
        long? fileBytes, string? fileMd5)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> fixedPart = stackalloc byte[25];
        sessionId.TryWriteBytes(fixedPart[..16]);
        fixedPart[16] = fileBytes is null ? (byte)0 : (byte)1;
        BinaryPrimitives.WriteInt64BigEndian(fixedPart[17..], fileBytes ?? 0);
        hash.AppendData(fixedPart);
        IdempotencyFingerprint.AppendText(hash, levelId);
        IdempotencyFingerprint.AppendText(hash, questionId);
        IdempotencyFingerprint.AppendText(hash, responseType);
        IdempotencyFingerprint.AppendText(hash, responseDataJson);
        IdempotencyFingerprint.AppendText(hash, fileMd5);
        return hash.GetHashAndReset();
    }
}
