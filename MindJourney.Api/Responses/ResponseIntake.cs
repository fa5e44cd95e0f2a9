using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Storage;
using MindJourney.Api.Telemetry;

namespace MindJourney.Api.Responses;

/// <summary>
/// Takes in one participant's answer for <c>POST /api/response</c>: it chooses what goes to storage (the file, a text
/// answer as text, or nothing), checks it, records it with the session's visitor number and, for content, tries to
/// deliver it before answering: a file to storage before its row (<see cref="FileIntake"/>), a text after its durable
/// copy. An acknowledged upload is durable whatever storage does next.
/// </summary>
public sealed class ResponseIntake(
    ResponseRecorder recorder,
    FileIntake files,
    ResponseStorage storage,
    UploadDeliverer deliverer,
    StorageTelemetry telemetry,
    UploadBudgets budgets,
    IOptions<StorageOptions> storageOptions)
{
    private const string ResponseDataField = "responseData";

    /// <summary>Reads the answer (JSON, or multipart with a file), checks it, records it and, when it carries content,
    /// hands that to storage. Every refusal is a 4xx problem, before anything is written.</summary>
    public async Task<Results<Created<ResponseDetails>, ProblemHttpResult>> RecordAsync(HttpContext http,
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
                return await CreateAsync(http, form.Request, form.File, multipart: true, cancellationToken, form.Early);
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
            : await CreateAsync(http, request, file: null, multipart: false, cancellationToken);
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
            ? files.Begin(sessionId, responseType, part.ContentType, part.ClientFileName)
            : null;
    }

    private async Task<Results<Created<ResponseDetails>, ProblemHttpResult>> CreateAsync(HttpContext http,
        CreateResponseRequest request, UploadContent? file, bool multipart, CancellationToken cancellationToken,
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

        var sessionId = request.SessionId!.Value;
        var responseType = request.ResponseType!;
        if (ChooseContent(responseType, responseData, file, multipart, options, out var text) is { } refused)
        {
            return refused;
        }

        var content = file ?? (text is null ? null : UploadContent.FromText(text));
        if (content is null)
        {
            // Nothing goes to storage (an email, or an answer without a file or text).
            ResponseDetails? created;
            try
            {
                created = await recorder.RecordAsync(sessionId, request.LevelId!, request.QuestionId!, responseType, responseData,
                    cancellationToken);
            }
            catch (SessionQuotaExceededException quota)
            {
                return QuotaExceeded(quota);
            }

            return created is null ? UnknownSession(sessionId) : Created(created);
        }

        await using (content)
        {
            var (reservation, overBudget) = await budgets.ReserveAsync(http, content.Length, cancellationToken);
            if (reservation is null)
            {
                return overBudget!;
            }

            if (file is not null && storage.IsConfigured)
            {
                // A file while storage is configured: storage first, the durable copy only when storage fails.
                ResponseDetails? fileResponse = null;
                try
                {
                    fileResponse = await files.RecordAsync(sessionId, request.LevelId!, request.QuestionId!, responseType, responseData,
                        file, early, reservation, cancellationToken);
                }
                catch (SessionQuotaExceededException quota)
                {
                    return QuotaExceeded(quota);
                }
                finally
                {
                    if (fileResponse is null)
                    {
                        reservation.Release();
                    }
                }

                if (fileResponse is null)
                {
                    return UnknownSession(sessionId);
                }

                telemetry.UploadSize.Record(file.Length, new KeyValuePair<string, object?>(StorageTelemetry.ResponseTypeTag, responseType));
                return Created(fileResponse);
            }

            var lease = storage.IsConfigured ? options.UploadTimeout + StorageOptions.LeaseMargin : TimeSpan.Zero;
            RecordedUpload? recorded = null;
            try
            {
                recorded = await recorder.RecordWithContentAsync(sessionId, request.LevelId!, request.QuestionId!,
                    responseType, responseData, content, lease, cancellationToken);
            }
            catch (SessionQuotaExceededException quota)
            {
                return QuotaExceeded(quota);
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
                return UnknownSession(sessionId);
            }

            // From here on the upload is durable and acknowledged whatever happens to storage.
            telemetry.UploadSize.Record(content.Length, new KeyValuePair<string, object?>(StorageTelemetry.ResponseTypeTag, responseType));
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
                telemetry.RecordUpload(responseType, StorageTelemetry.OutcomeQueued);
            }

            var response = recorded.Response;
            response.StorageStatus = stored ? StorageInfo.Stored : StorageInfo.Pending;
            return Created(ResponseDetails.From(response));
        }
    }

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
