using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using MindJourney.Api.Data;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Storage;
using MindJourney.Api.Telemetry;
using MindJourney.Api.Withdrawal;

namespace MindJourney.Api.Responses;

/// <summary>
/// Takes in one participant's answer for <c>POST /api/response</c>: it chooses what goes to storage (the file, a text
/// answer as text, or nothing), checks it and records it with the session's visitor number. An answer without a file
/// is recorded with those arriving beside it (<see cref="AnswerBatcher"/>), a text's object written by the delivery
/// worker right after; a file goes to storage before its row (<see cref="FileIntake"/>), its bytes kept in the
/// database only when storage fails. An acknowledged answer is durable whatever storage does next. With an
/// <c>Idempotency-Key</c>, the answer its session already holds under the key is returned again (the same body,
/// nothing stored or counted again) or, for another body, refused.
/// </summary>
public sealed class ResponseIntake(
    ResponseRecorder recorder,
    FileIntake files,
    AnswerBatcher batcher,
    AnswerKeys keys,
    ResponseStorage storage,
    UploadDeliverer deliverer,
    StorageTelemetry telemetry,
    ResponsesTelemetry responsesTelemetry,
    UploadBudgets budgets,
    DatabaseDeadline deadline,
    IOptions<StorageOptions> storageOptions)
{
    /// <summary>How often a text answer takes the next millisecond's object name when the one it had was taken.</summary>
    private const int MaxNameAttempts = 20;

    private const string ResponseDataField = "responseData";

    /// <summary>Reads the answer (JSON, or multipart with a file), checks it, records it and, when it carries content,
    /// hands that to storage. Every refusal is a 4xx problem, before anything is written.</summary>
    public async Task<Results<Created<ResponseDetails>, ProblemHttpResult>> RecordAsync(HttpContext http, string? idempotencyKey,
        CancellationToken cancellationToken)
    {
        var options = storageOptions.Value;
        if (UploadsInFlight.IsMultipart(http.Request))
        {
            // A client past its bytes, or a full database, is told before it sends a file it would send in vain.
            if (await budgets.RefuseEarlyAsync(http, cancellationToken) is { } spent)
            {
                return spent;
            }

            var (form, problem) = await ResponseForm.ReadAsync(http.Request, options.MaxMediaBytes, options.MaxTextBytes,
                options.SpoolFolder, cancellationToken, BeginUpload);
            if (form is null)
            {
                return problem!;
            }

            await using (form)
            {
                return await CreateAsync(http, form.Request, form.File, multipart: true, idempotencyKey, cancellationToken,
                    form.Early);
            }
        }

        if (!http.Request.HasJsonContentType())
        {
            return Problems.UnsupportedMediaType("Send application/json, or multipart/form-data with a file part.");
        }

        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = RequestLimits.JsonBodyBytes;
        }

        CreateResponseRequest? request;
        try
        {
            request = await http.Request.ReadFromJsonAsync(ApiJsonContext.Default.CreateResponseRequest, cancellationToken);
        }
        catch (JsonException ex)
        {
            return Problems.BadRequest($"The body is not valid JSON for a response: {ex.Message}");
        }

        return request is null
            ? Problems.BadRequest("The body must be a JSON object.")
            : await CreateAsync(http, request, file: null, multipart: false, idempotencyKey, cancellationToken);
    }

    /// <summary>A file whose session and type came before its bytes, of a kind that type takes, goes to storage as
    /// it arrives (nothing is kept there unless the whole request is accepted); anything else is checked after.</summary>
    private EarlyUpload? BeginUpload(FilePartStart part)
    {
        var fields = part.Fields;
        return storage.IsConfigured
            && fields.TryGetValue("sessionId", out var session) && Guid.TryParse(session, out var sessionId)
            && fields.TryGetValue("responseType", out var responseType) && MediaTypes.AllowedFor(responseType) is { } allowed
            && MediaTypes.Matches(part.ContentType, allowed)
            ? files.Begin(sessionId, responseType, part.ContentType, part.ClientFileName, part.BodyBytesLeft)
            : null;
    }

    private async Task<Results<Created<ResponseDetails>, ProblemHttpResult>> CreateAsync(HttpContext http,
        CreateResponseRequest request, UploadContent? file, bool multipart, string? idempotencyKey, CancellationToken cancellationToken,
        EarlyUpload? early = null)
    {
        var options = storageOptions.Value;
        if (RequestValidation.Problem(request) is { } problem)
        {
            return Problems.BadRequest(problem);
        }

        if (NormaliseResponseData(request.ResponseData, out var responseData) is { } refusedData)
        {
            return Problems.BadRequest(refusedData);
        }

        var answer = new Answer(request.SessionId!.Value, request.LevelId!, request.QuestionId!, request.ResponseType!, responseData);
        if (ChooseContent(answer.ResponseType, responseData, file, multipart, options, out var text) is { } refused)
        {
            return refused;
        }

        Key? key = null;
        if (idempotencyKey is not null)
        {
            key = new Key(keys.Hash(idempotencyKey), AnswerFingerprint.Of(answer.SessionId, answer.LevelId, answer.QuestionId,
                answer.ResponseType, responseData, file?.Length, file?.Md5Hash));
        }

        // A replay waits for its key's first request on this instance to end, then finds its answer stored.
        using var turn = key is null ? null : await keys.EnterAsync(answer.SessionId, key.Hash, cancellationToken);
        var result = file is null && (text is null || !TextIsTheJson(responseData))
            ? await RecordAnswerAsync(http, answer, text, key, cancellationToken)
            : await RecordContentAsync(http, answer, file ?? UploadContent.FromText(text!), isFile: file is not null, key, early,
                cancellationToken);
        if (key is not null && result.Result is Created<ResponseDetails>)
        {
            keys.Remember(key.Hash);
        }

        return result;
    }

    /// <summary>An answer without a file, recorded by the next answer statement; a text's object is written by the
    /// delivery worker (<c>storage.status</c> pending until then).</summary>
    private async Task<Results<Created<ResponseDetails>, ProblemHttpResult>> RecordAnswerAsync(HttpContext http, Answer answer,
        string? text, Key? key, CancellationToken cancellationToken)
    {
        AnswerText? content = null;
        UploadReservation? reservation = null;
        if (text is not null)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(text);
            var md5 = Convert.ToBase64String(System.Security.Cryptography.MD5.HashData(bytes));
            content = new AnswerText(answer.SessionId, bytes.Length, md5, DateTimeOffset.UtcNow);
            (reservation, var overBudget) = await budgets.ReserveAsync(http, bytes.Length, cancellationToken,
                copiedToOutbox: false);
            if (reservation is null)
            {
                // A replay costs no bytes: it is answered even when the client's budget is spent.
                if (key is not null && await FindReplayAsync(http, answer.SessionId, key, cancellationToken) is { } replay)
                {
                    http.Response.Headers.RetryAfter = default;
                    return replay;
                }

                return overBudget!;
            }
        }

        var request = new AnswerRequest(Guid.CreateVersion7(), answer.SessionId, answer.LevelId, answer.QuestionId, answer.ResponseType,
            answer.ResponseData, System.Text.Encoding.UTF8.GetByteCount(answer.ResponseData), key?.Hash, key?.Fingerprint, content);
        AnswerResult? result = null;
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                // Bounded by the deadline: a silent database answers 503, and the retry with the same key is stored once
                // (its statement waits for this one's, which ends with the partition: the batcher keeps a session's order).
                var sent = request;
                result = await deadline.RunAsync(token => batcher.RecordAsync(sent, token), responsesTelemetry.DeadlinesPassed,
                    "An answer", cancellationToken);
                if (result.Outcome != AnswerOutcome.NameTaken)
                {
                    break;
                }

                if (attempt >= MaxNameAttempts)
                {
                    throw new InvalidOperationException($"No free object name for response {request.Id}.");
                }

                request = request.WithNextObjectName();
            }
        }
        finally
        {
            if (result?.Outcome != AnswerOutcome.Recorded)
            {
                reservation?.Release();
            }
        }

        var limits = storageOptions.Value;
        switch (result.Outcome)
        {
            case AnswerOutcome.Recorded:
                recorder.LogRecorded(answer.SessionId, result.Stored!.VisitorNumber);
                if (content is not null)
                {
                    telemetry.UploadSize.Record(content.Length,
                        new KeyValuePair<string, object?>(StorageTelemetry.ResponseTypeTag, answer.ResponseType));
                }

                if (key is not null)
                {
                    responsesTelemetry.RecordKey(ResponsesTelemetry.KeyFirst);
                }

                return Created(ResponseDetails.From(result.Stored!));
            case AnswerOutcome.Found:
                return Replay(http, result.Stored!, result.StoredFingerprint, key!);
            case AnswerOutcome.NoSession:
                return UnknownSession(answer.SessionId);
            case AnswerOutcome.Withdrawn:
                return PersonWithdrawnException.Problem();
            default:
                return QuotaExceeded(result.Responses >= limits.MaxResponsesPerSession
                    ? ResponseRecorder.TooManyResponses(limits)
                    : ResponseRecorder.TooManyBytes(limits, content is null ? "answer" : "upload", result.Bytes));
        }
    }

    /// <summary>A file (or a text whose content is its JSON), recorded with its bytes and, when storage is configured,
    /// delivered before the answer.</summary>
    private async Task<Results<Created<ResponseDetails>, ProblemHttpResult>> RecordContentAsync(HttpContext http, Answer answer,
        UploadContent content, bool isFile, Key? key, EarlyUpload? early, CancellationToken cancellationToken)
    {
        var options = storageOptions.Value;
        await using (content)
        {
            // A replay is answered before anything is reserved or written: its file is stored once.
            if (key is not null && await FindReplayAsync(http, answer.SessionId, key, cancellationToken) is { } replay)
            {
                return replay;
            }

            var (reservation, overBudget) = await budgets.ReserveAsync(http, content.Length, cancellationToken);
            if (reservation is null)
            {
                return overBudget!;
            }

            if (isFile && storage.IsConfigured)
            {
                return await RecordFileAsync(http, answer, content, key, early, reservation, cancellationToken);
            }

            var lease = storage.IsConfigured ? options.UploadTimeout + StorageOptions.LeaseMargin : TimeSpan.Zero;
            RecordedUpload? recorded = null;
            try
            {
                // After the body was read: the deadline times the database, not the client's sending.
                recorded = await BoundedAsync(token => recorder.RecordWithContentAsync(answer.SessionId, answer.LevelId,
                    answer.QuestionId, answer.ResponseType, answer.ResponseData, content, lease, key?.Hash, key?.Fingerprint, token),
                    cancellationToken);
            }
            catch (SessionQuotaExceededException quota)
            {
                return QuotaExceeded(quota);
            }
            catch (PersonWithdrawnException)
            {
                return PersonWithdrawnException.Problem();
            }
            catch (Npgsql.PostgresException ex) when (IsKeyTaken(ex, key))
            {
                return await ReplayOfTakenKeyAsync(http, answer.SessionId, key!, ex, cancellationToken);
            }
            finally
            {
                if (recorded is null)
                {
                    reservation.Release();
                }
            }

            if (recorded is null)
            {
                return UnknownSession(answer.SessionId);
            }

            if (key is not null)
            {
                responsesTelemetry.RecordKey(ResponsesTelemetry.KeyFirst);
            }

            // From here on the upload is durable and acknowledged whatever happens to storage.
            telemetry.UploadSize.Record(content.Length,
                new KeyValuePair<string, object?>(StorageTelemetry.ResponseTypeTag, answer.ResponseType));
            var stored = false;
            if (storage.IsConfigured)
            {
                try
                {
                    // Not the request's token: a client that leaves must not cut a delivery half-way.
                    stored = await deliverer.DeliverAsync(recorded.Delivery, _ => Task.FromResult(content.OpenRead()),
                        options.UploadTimeout, fromRequest: true, CancellationToken.None);
                }
                catch (Npgsql.NpgsqlException)
                {
                    // The database went away after the commit: the delivery's lease ends and a worker takes it.
                }
            }
            else
            {
                telemetry.RecordUpload(answer.ResponseType, StorageTelemetry.OutcomeQueued);
            }

            var response = recorded.Response;
            response.StorageStatus = stored ? StorageInfo.Stored : StorageInfo.Pending;
            return Created(ResponseDetails.From(response));
        }
    }

    /// <summary>A file while storage is configured: storage first, the durable copy only when storage fails
    /// (<see cref="FileIntake"/>).</summary>
    private async Task<Results<Created<ResponseDetails>, ProblemHttpResult>> RecordFileAsync(HttpContext http, Answer answer,
        UploadContent file, Key? key, EarlyUpload? early, UploadReservation reservation, CancellationToken cancellationToken)
    {
        ResponseDetails? created = null;
        try
        {
            created = await files.RecordAsync(answer.SessionId, answer.LevelId, answer.QuestionId, answer.ResponseType,
                answer.ResponseData, file, early, reservation, key?.Hash, key?.Fingerprint, cancellationToken);
        }
        catch (SessionQuotaExceededException quota)
        {
            return QuotaExceeded(quota);
        }
        catch (PersonWithdrawnException)
        {
            return PersonWithdrawnException.Problem();
        }
        catch (Npgsql.PostgresException ex) when (IsKeyTaken(ex, key))
        {
            return await ReplayOfTakenKeyAsync(http, answer.SessionId, key!, ex, cancellationToken);
        }
        finally
        {
            if (created is null)
            {
                reservation.Release();
            }
        }

        if (created is null)
        {
            return UnknownSession(answer.SessionId);
        }

        if (key is not null)
        {
            responsesTelemetry.RecordKey(ResponsesTelemetry.KeyFirst);
        }

        telemetry.UploadSize.Record(file.Length, new KeyValuePair<string, object?>(StorageTelemetry.ResponseTypeTag, answer.ResponseType));
        return Created(created);
    }

    private static bool IsKeyTaken(Npgsql.PostgresException ex, Key? key) => key is not null
        && ex.SqlState == Npgsql.PostgresErrorCodes.UniqueViolation && ex.ConstraintName == MindJourneyDbContext.AnswerKeyIndex;

    /// <summary>Another instance recorded the key's first answer meanwhile: this request is its replay.</summary>
    private async Task<Results<Created<ResponseDetails>, ProblemHttpResult>> ReplayOfTakenKeyAsync(HttpContext http, Guid sessionId,
        Key key, Npgsql.PostgresException taken, CancellationToken cancellationToken) =>
        await FindReplayAsync(http, sessionId, key, cancellationToken)
        ?? throw new InvalidOperationException("An answer's Idempotency-Key was taken, and its answer is gone.", taken);

    /// <summary>The answer stored under the key, answered as a replay (or refused for another body); null when the
    /// session holds none.</summary>
    private async Task<Results<Created<ResponseDetails>, ProblemHttpResult>?> FindReplayAsync(HttpContext http, Guid sessionId, Key key,
        CancellationToken cancellationToken) =>
        await BoundedAsync(token => recorder.FindByKeyAsync(sessionId, key.Hash, token), cancellationToken) is { } found
            ? Replay(http, found.Answer, found.Fingerprint, key)
            : null;

    /// <summary>A database step of an answer outside the answer statement (a replay's lookup, an upload's row and copy),
    /// waited for at most the deadline.</summary>
    private Task<T> BoundedAsync<T>(Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken) =>
        deadline.RunAsync(work, responsesTelemetry.DeadlinesPassed, "An answer", cancellationToken);

    /// <summary>The first answer again, as its 201 said it (its storage status as it is now), when the body is the
    /// one the key was first sent with; else 422, saying nothing of the first answer.</summary>
    private Results<Created<ResponseDetails>, ProblemHttpResult> Replay(HttpContext http, ExperimentResponse stored, byte[]? fingerprint,
        Key key)
    {
        if (fingerprint is null || !fingerprint.AsSpan().SequenceEqual(key.Fingerprint))
        {
            responsesTelemetry.RecordKey(ResponsesTelemetry.KeyReused);
            return Problems.UnprocessableEntity("This Idempotency-Key was already used for a different answer (another session, "
                + "question or body). Send a new key for a new answer.");
        }

        responsesTelemetry.RecordKey(ResponsesTelemetry.KeyReplayed);
        http.Response.Headers[Sessions.SessionsApi.IdempotentReplayedHeader] = "true";
        return Created(ResponseDetails.From(stored));
    }

    /// <summary>What the request asks to record, checked and normalised.</summary>
    private sealed record Answer(Guid SessionId, string LevelId, string QuestionId, string ResponseType, string ResponseData);

    /// <summary>An Idempotency-Key as kept (its HMAC) and the fingerprint of the body it came with.</summary>
    private sealed record Key(string Hash, byte[] Fingerprint);

    /// <summary>What goes to storage: the file (of the right kind), or a text answer as text-response.txt, or
    /// nothing. A refusal is a 4xx, before anything is written.</summary>
    private static ProblemHttpResult? ChooseContent(string responseType, string responseDataJson, UploadContent? file,
        bool multipart, StorageOptions options, out string? text)
    {
        text = null;
        if (file is not null)
        {
            if (MediaTypes.AllowedFor(responseType) is not { } allowed)
            {
                return Problems.BadRequest($"A '{responseType}' response takes no file; send its answer in responseData.");
            }

            if (!MediaTypes.Matches(file.ContentType, allowed))
            {
                return Problems.UnsupportedMediaType(
                    $"A '{responseType}' file must be {allowed}; got '{MediaTypes.Describe(file.ContentType)}'.");
            }

            return null;
        }

        if (multipart && MediaTypes.AllowedFor(responseType) is not null)
        {
            return Problems.BadRequest($"A '{responseType}' upload needs a '{ResponseForm.FilePartName}' part.");
        }

        if (responseType == ResponseTypes.Text)
        {
            text = TextOf(responseDataJson);
            if (text is not null && System.Text.Encoding.UTF8.GetByteCount(text) > options.MaxTextBytes)
            {
                return Problems.PayloadTooLarge($"The text answer is larger than {options.MaxTextBytes} bytes.");
            }
        }

        return null;
    }

    /// <summary>The answer text written to <c>text-response.txt</c>: a string answer as it is, an object's
    /// <c>text</c> property, else the JSON itself; nothing for a null answer.</summary>
    internal static string? TextOf(string responseDataJson)
    {
        using var document = JsonDocument.Parse(responseDataJson);
        var root = document.RootElement;
        return root.ValueKind switch
        {
            JsonValueKind.Null => null,
            JsonValueKind.String => root.GetString(),
            JsonValueKind.Object when root.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String => t.GetString(),
            _ => root.GetRawText(),
        };
    }

    /// <summary>Whether a text answer's content is its JSON itself (neither a string nor an object with a string
    /// <c>text</c>): PostgreSQL's jsonb does not keep that JSON as sent, so its bytes are stored with it.</summary>
    internal static bool TextIsTheJson(string responseDataJson)
    {
        using var document = JsonDocument.Parse(responseDataJson);
        var root = document.RootElement;
        return root.ValueKind is not (JsonValueKind.Null or JsonValueKind.String)
            && !(root.ValueKind == JsonValueKind.Object && root.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String);
    }

    private static ProblemHttpResult QuotaExceeded(SessionQuotaExceededException quota) => quota.StatusCode == StatusCodes.Status409Conflict
        ? Problems.Conflict(quota.Message)
        : Problems.PayloadTooLarge(quota.Message);

    private static ProblemHttpResult UnknownSession(Guid sessionId) => Problems.NotFound($"No session with id '{sessionId}'.");

    private static Created<ResponseDetails> Created(ResponseDetails created) =>
        TypedResults.Created($"/api/session/{created.SessionId}/responses", created.WithoutPerson());

    /// <summary>The original client sends <c>responseData</c> as a string holding JSON; store the JSON it holds,
    /// or the plain string as a JSON string when it holds none. Null when it can be stored, else why not: the
    /// JSON it holds keeps the same rules (<see cref="StoredInput"/>) as JSON sent as it is.</summary>
    internal static string? NormaliseResponseData(JsonElement? value, out string json)
    {
        json = "null";
        if (value is not { } element || element.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return null;
        }

        if (StoredInput.JsonProblem(element, ResponseDataField) is { } problem)
        {
            return problem;
        }

        json = element.GetRawText();
        if (element.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        var text = System.Text.Encoding.UTF8.GetBytes(element.GetString()!);
        if (StoredInput.JsonProblem(text, ResponseDataField, out var isJson) is { } inner)
        {
            return inner;
        }

        if (isJson)
        {
            using var document = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = StoredInput.MaxJsonDepth });
            json = document.RootElement.GetRawText();
        }

        return null;
    }
}
