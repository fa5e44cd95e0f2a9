using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace MindJourney.Api.Export;

/// <summary>
/// Writes rows as CSV (RFC 4180: CRLF, header row; a participant's cells always quoted, others when needed) or JSON
/// Lines into a small buffer that goes to <paramref name="destination"/> asynchronously whenever it holds 64 KiB:
/// memory stays the same whatever the export's size, and no write blocks a thread.
/// </summary>
public sealed class ExportRowWriter(Stream destination, string format)
{
    public const string Csv = "csv";
    public const string Jsonl = "jsonl";

    private const int FlushBytes = 64 * 1024;

    /// <summary>The CSV header; JSON Lines uses the same names in camelCase.</summary>
    public static readonly string[] Columns =
    [
        "visitor_number", "mode", "condition", "session_id", "user_id", "response_id", "level_id", "question_id",
        "response_type", "text", "file_object_name", "file_size_bytes", "file_md5", "created_at",
        "recruitment_source", "recruitment_participant_id", "recruitment_study_id", "recruitment_session_id",
    ];

    private static readonly JsonEncodedText[] JsonNames = Columns.Select(c => JsonEncodedText.Encode(CamelCase(c))).ToArray();

    // Not embedded in a page: the file is a download, so non-ASCII text stays readable instead of \u-escaped.
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly ArrayBufferWriter<byte> _buffer = new(FlushBytes * 2);
    private Utf8JsonWriter? _json;
    private bool _firstCell = true;

    public long Rows { get; private set; }

    public async ValueTask WriteHeaderAsync(CancellationToken cancellationToken)
    {
        if (format == Csv)
        {
            foreach (var column in Columns)
            {
                Cell(column, participant: false);
            }

            EndCsvRow();
        }

        await FlushIfFullAsync(cancellationToken);
    }

    public ValueTask WriteAsync(in ExportRow row, CancellationToken cancellationToken)
    {
        if (format == Csv)
        {
            WriteCsv(row);
        }
        else
        {
            WriteJson(row);
        }

        Rows++;
        return FlushIfFullAsync(cancellationToken);
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_buffer.WrittenCount > 0)
        {
            await destination.WriteAsync(_buffer.WrittenMemory, cancellationToken);
            _buffer.ResetWrittenCount();
        }
    }

    private ValueTask FlushIfFullAsync(CancellationToken cancellationToken) =>
        _buffer.WrittenCount >= FlushBytes ? FlushAsync(cancellationToken) : ValueTask.CompletedTask;

    private void WriteCsv(in ExportRow row)
    {
        Cell(row.VisitorNumber);
        Cell(row.Mode, participant: false);
        Cell(row.Condition, participant: true);
        Cell<Guid>(row.SessionId);
        Cell<Guid>(row.UserId);
        Cell(row.ResponseId);
        // Level and question ids, and the text, are whatever the participant's browser sent.
        Cell(row.LevelId, participant: true);
        Cell(row.QuestionId, participant: true);
        Cell(row.ResponseType, participant: false);
        Cell(row.Text, participant: true);
        Cell(row.FileObjectName, participant: true); // ends with the uploaded file's (sanitised) name
        Cell(row.FileSizeBytes);
        Cell(row.FileMd5, participant: false);
        Cell(row.CreatedAt?.UtcDateTime, "O");
        Cell(row.RecruitmentSource, participant: false);
        // A panel's ids arrive on the study link: whatever the participant's browser sent.
        Cell(row.RecruitmentParticipantId, participant: true);
        Cell(row.RecruitmentStudyId, participant: true);
        Cell(row.RecruitmentSessionId, participant: true);
        EndCsvRow();
    }

    private void WriteJson(in ExportRow row)
    {
        var json = _json ??= new Utf8JsonWriter(_buffer, JsonOptions);
        json.Reset(_buffer);
        var i = 0;
        json.WriteStartObject();
        if (row.VisitorNumber is { } number)
        {
            json.WriteNumber(JsonNames[i++], number);
        }
        else
        {
            json.WriteNull(JsonNames[i++]);
        }

        json.WriteString(JsonNames[i++], row.Mode);
        json.WriteString(JsonNames[i++], row.Condition);
        json.WriteString(JsonNames[i++], row.SessionId);
        json.WriteString(JsonNames[i++], row.UserId);
        json.WriteString(JsonNames[i++], row.ResponseId?.ToString("D"));
        json.WriteString(JsonNames[i++], row.LevelId);
        json.WriteString(JsonNames[i++], row.QuestionId);
        json.WriteString(JsonNames[i++], row.ResponseType);
        json.WriteString(JsonNames[i++], row.Text);
        json.WriteString(JsonNames[i++], row.FileObjectName);
        if (row.FileSizeBytes is { } size)
        {
            json.WriteNumber(JsonNames[i++], size);
        }
        else
        {
            json.WriteNull(JsonNames[i++]);
        }

        json.WriteString(JsonNames[i++], row.FileMd5);
        if (row.CreatedAt is { } createdAt)
        {
            json.WriteString(JsonNames[i++], createdAt.UtcDateTime);
        }
        else
        {
            json.WriteNull(JsonNames[i++]);
        }

        json.WriteString(JsonNames[i++], row.RecruitmentSource);
        json.WriteString(JsonNames[i++], row.RecruitmentParticipantId);
        json.WriteString(JsonNames[i++], row.RecruitmentStudyId);
        json.WriteString(JsonNames[i], row.RecruitmentSessionId);

        json.WriteEndObject();
        json.Flush();
        Raw("\n"u8);
    }

    /// <summary>
    /// A text cell. A participant's cell is always quoted: a spreadsheet whose list separator is <c>;</c> (German,
    /// French locales) would otherwise split <c>x;=1+1</c> into cells and run the second. One that starts with
    /// <c>= + - @</c>, a tab or a carriage return also gets a leading apostrophe, so a spreadsheet shows it as text
    /// instead of running it as a formula (OWASP, CSV injection).
    /// </summary>
    private void Cell(string? value, bool participant)
    {
        Separator();
        if (value is null)
        {
            return;
        }

        var neutralise = participant && value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r';
        var quote = participant || value.AsSpan().IndexOfAny(",\"\r\n") >= 0;
        if (!quote)
        {
            Utf8(value);
            return;
        }

        Raw(neutralise ? "\"'"u8 : "\""u8);
        var rest = value.AsSpan();
        for (var at = rest.IndexOf('"'); at >= 0; at = rest.IndexOf('"'))
        {
            Utf8(rest[..(at + 1)]);
            Raw("\""u8);
            rest = rest[(at + 1)..];
        }

        Utf8(rest);
        Raw("\""u8);
    }

    private void Cell<T>(T? value, string? valueFormat = null) where T : struct, IUtf8SpanFormattable
    {
        Separator();
        if (value is not { } present)
        {
            return;
        }

        var span = _buffer.GetSpan(64);
        if (!present.TryFormat(span, out var written, valueFormat, CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException($"Could not format {typeof(T).Name}.");
        }

        _buffer.Advance(written);
    }

    private void Separator()
    {
        if (!_firstCell)
        {
            Raw(","u8);
        }

        _firstCell = false;
    }

    private void EndCsvRow()
    {
        Raw("\r\n"u8);
        _firstCell = true;
    }

    private void Raw(ReadOnlySpan<byte> bytes) => _buffer.Write(bytes);

    private void Utf8(ReadOnlySpan<char> text)
    {
        var span = _buffer.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        _buffer.Advance(Encoding.UTF8.GetBytes(text, span));
    }

    private static string CamelCase(string snake)
    {
        var parts = snake.Split('_');
        return parts[0] + string.Concat(parts.Skip(1).Select(p => char.ToUpperInvariant(p[0]) + p[1..]));
    }
}
