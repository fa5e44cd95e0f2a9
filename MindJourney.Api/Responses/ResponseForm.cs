using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Storage;

namespace MindJourney.Api.Responses;

/// <summary>A multipart <c>POST /api/response</c>: the same fields as the JSON form, plus the <c>file</c> part,
/// spooled to a temporary file as it arrives.</summary>
internal sealed partial class ResponseForm : IAsyncDisposable
{
    public const string FilePartName = "file";

    private const int MaxBoundaryLength = 70; // RFC 2046

    /// <summary>The multipart reader hands a part's body out at most a buffer at a time: its default (4 KiB) costs a
    /// read, a hash and a write call per 4 KiB of a video.</summary>
    private const int ReadBufferBytes = 64 * 1024;
    private const int MaxIdFieldBytes = 4 * ResponsesApi.MaxIdLength; // 200 characters of UTF-8

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static readonly HashSet<string> IdFields = ["sessionId", "levelId", "questionId", "responseType"];

    private ResponseForm(CreateResponseRequest request, UploadContent? file, EarlyUpload? early)
    {
        Request = request;
        File = file;
        Early = early;
    }

    public CreateResponseRequest Request { get; }

    public UploadContent? File { get; }

    /// <summary>The file's upload to storage, started as its bytes arrived, when the caller started one.</summary>
    public EarlyUpload? Early { get; }

    /// <summary>Reads the form, or says with a 4xx what is wrong with it. The file part stops being read as soon
    /// as it passes <paramref name="maxFileBytes"/>.</summary>
    public static async Task<(ResponseForm? Form, ProblemHttpResult? Problem)> ReadAsync(
        HttpRequest request, long maxFileBytes, long maxFieldBytes, string spoolFolder, CancellationToken cancellationToken,
        Func<FilePartStart, EarlyUpload?>? onFile = null)
    {
        EarlyUpload? early = null;
        try
        {
            var (form, problem) = await ReadAsync(request, maxFileBytes, maxFieldBytes, spoolFolder, onFile, e => early = e,
                cancellationToken);
            if (form is not null)
            {
                early = null; // the form's now
            }

            return (form, problem);
        }
        finally
        {
            if (early is not null)
            {
                await early.DisposeAsync();
            }
        }
    }

    private static async Task<(ResponseForm? Form, ProblemHttpResult? Problem)> ReadAsync(HttpRequest request, long maxFileBytes,
        long maxFieldBytes, string spoolFolder, Func<FilePartStart, EarlyUpload?>? onFile, Action<EarlyUpload> started,
        CancellationToken cancellationToken)
    {
        EarlyUpload? early = null;
        var boundary = MediaTypeHeaderValue.Parse(request.ContentType).Boundary;
        var boundaryText = HeaderUtilities.RemoveQuotes(boundary).Value;
        if (string.IsNullOrWhiteSpace(boundaryText) || boundaryText.Length > MaxBoundaryLength)
        {
            return (null, Problems.BadRequest("multipart/form-data needs a boundary of 1 to 70 characters."));
        }

        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        UploadContent? file = null;
        try
        {
            var body = new CountingReadStream(request.Body);
            var reader = new MultipartReader(boundaryText, body, ReadBufferBytes);
            MultipartSection? section;
            while ((section = await reader.ReadNextSectionAsync(cancellationToken)) is not null)
            {
                if (section.Headers is { } headers && headers.Any(h => HasControlCharacter(h.Key) || h.Value.Any(HasControlCharacter)))
                {
                    return await FailAsync(file, Problems.BadRequest("Part headers must not contain control characters."));
                }

                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || !disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase)
                    || HeaderUtilities.RemoveQuotes(disposition.Name).Value is not { Length: > 0 } name)
                {
                    return await FailAsync(file, Problems.BadRequest("Every part must be form-data with a name."));
                }

                if (disposition.IsFileDisposition())
                {
                    if (name != FilePartName)
                    {
                        return await FailAsync(file, Problems.BadRequest($"The only file part accepted is '{FilePartName}'."));
                    }

                    if (file is not null)
                    {
                        return await FailAsync(file, Problems.BadRequest($"Send one '{FilePartName}' part, not several."));
                    }

                    var clientName = HeaderUtilities.RemoveQuotes(disposition.FileNameStar).Value is { Length: > 0 } star
                        ? star
                        : HeaderUtilities.RemoveQuotes(disposition.FileName).Value;
                    var contentType = MediaTypes.Normalise(section.ContentType);
                    // What the body has left once the part's start is read (the reader may have read a little past it): the
                    // file's size give or take the end boundary, when the file is the last part (as browsers send it).
                    var remaining = request.ContentLength is { } total ? total - body.BytesRead : (long?)null;
                    if (onFile?.Invoke(new FilePartStart(fields, contentType, clientName, remaining)) is { } begun)
                    {
                        started(early = begun);
                    }

                    file = await UploadContent.SpoolAsync(section.Body, maxFileBytes, contentType, clientName, spoolFolder,
                        cancellationToken, early?.Tap);
                    if (file is null)
                    {
                        return (null, Problems.PayloadTooLarge($"The file is larger than {maxFileBytes} bytes."));
                    }

                    continue;
                }

                var isId = IdFields.Contains(name);
                var (value, tooLong) = await ReadFieldAsync(section.Body, isId ? MaxIdFieldBytes : maxFieldBytes, cancellationToken);
                if (tooLong)
                {
                    return await FailAsync(file, isId
                        ? Problems.BadRequest($"{name} is at most {ResponsesApi.MaxIdLength} characters.")
                        : Problems.PayloadTooLarge($"The form field '{Truncate(name)}' is longer than {maxFieldBytes} bytes."));
                }

                if (value is null)
                {
                    return await FailAsync(file, Problems.BadRequest($"The form field '{Truncate(name)}' is not valid UTF-8."));
                }

                if (!isId && name != "responseData")
                {
                    continue; // unknown fields are ignored, as in the JSON form
                }

                if (!fields.TryAdd(name, value))
                {
                    return await FailAsync(file, Problems.BadRequest($"The form field '{Truncate(name)}' is sent more than once."));
                }
            }
        }
        catch (UploadSpoolException ex)
        {
            // Our disk, not the client's body: a 5xx the client may retry, never "malformed".
            LogSpoolFailed(request.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger<ResponseForm>(),
                ex.DiskFull, ex.InnerException?.GetType().Name ?? ex.GetType().Name);
            request.HttpContext.Response.Headers.RetryAfter = "30";
            return await FailAsync(file, ex.DiskFull
                ? Problems.Create(StatusCodes.Status507InsufficientStorage, "Insufficient storage",
                    "The server has no room for this upload right now. Nothing was saved; please retry later.")
                : Problems.Create(StatusCodes.Status503ServiceUnavailable, "Service unavailable",
                    "The server cannot take uploads right now. Nothing was saved; please retry later."));
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException && ex is not BadHttpRequestException)
        {
            // A broken multipart body (missing end boundary, oversized part headers, a client that stopped).
            return await FailAsync(file, Problems.BadRequest("The multipart body is malformed or incomplete."));
        }
        catch
        {
            if (file is not null)
            {
                await file.DisposeAsync();
            }

            throw;
        }

        Guid? sessionId = null;
        if (fields.TryGetValue("sessionId", out var sessionText))
        {
            if (!Guid.TryParse(sessionText, out var parsed))
            {
                return await FailAsync(file, Problems.BadRequest("sessionId must be a uuid."));
            }

            sessionId = parsed;
        }

        JsonElement? responseData = fields.TryGetValue("responseData", out var data) ? StringElement(data) : null;
        var fieldsRequest = new CreateResponseRequest(sessionId, fields.GetValueOrDefault("levelId"),
            fields.GetValueOrDefault("questionId"), fields.GetValueOrDefault("responseType"), responseData);
        return (new ResponseForm(fieldsRequest, file, early), null);
    }

    /// <summary>A form field as the JSON string the original client sends in the JSON form.</summary>
    private static JsonElement StringElement(string value)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStringValue(value);
        }

        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }

    /// <summary>The field's text; null when it is not valid UTF-8 (a replacement character would store something
    /// the client never sent).</summary>
    private static async Task<(string? Value, bool TooLong)> ReadFieldAsync(Stream body, long limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return (null, true);
            }

            buffer.Write(chunk, 0, read);
        }

        try
        {
            return (StrictUtf8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length), false);
        }
        catch (DecoderFallbackException)
        {
            return (null, false);
        }
    }

    private static bool HasControlCharacter(string? text) => text is not null && text.Any(c => char.IsControl(c) && c != '\t');

    private static async Task<(ResponseForm?, ProblemHttpResult?)> FailAsync(UploadContent? file, ProblemHttpResult problem)
    {
        if (file is not null)
        {
            await file.DisposeAsync();
        }

        return (null, problem);
    }

    private static string Truncate(string name) => name.Length > 40 ? name[..40] + "…" : name;

    public async ValueTask DisposeAsync()
    {
        if (Early is not null)
        {
            await Early.DisposeAsync(); // before the spool goes: an unaccepted upload stops first
        }

        if (File is not null)
        {
            await File.DisposeAsync();
        }
    }

    [LoggerMessage(Level = LogLevel.Error,
        Message = "Upload refused: its temporary file could not be written (disk full: {DiskFull}, {Error})")]
    private static partial void LogSpoolFailed(ILogger logger, bool diskFull, string error);
}

/// <summary>A file part about to be read: the fields sent before it, its content type (normalised), the client's
/// file name, and the bytes the request's body has left (unknown without a Content-Length).</summary>
internal sealed record FilePartStart(IReadOnlyDictionary<string, string> Fields, string ContentType, string? ClientFileName,
    long? BodyBytesLeft);

/// <summary>A request body that counts what was read from it.</summary>
internal sealed class CountingReadStream(Stream inner) : Stream
{
    public long BytesRead { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => BytesRead;
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken);
        BytesRead += read;
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count)
    {
        var read = inner.Read(buffer, offset, count);
        BytesRead += read;
        return read;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
