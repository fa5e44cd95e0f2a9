using System.IO.Compression;
using System.Text;
using System.Text.Json;
using MindJourney.Api.Storage;
using Npgsql;

namespace MindJourney.Api.Export;

/// <summary>
/// The zip export, written straight to the (non-seekable) response body: <c>responses.csv</c> first, then every
/// stored file, then <c>manifest.json</c> with each entry's path, size, MD5 and SHA-256, computed while the bytes
/// went by. The CSV's rows are read once; the files they name are noted in a temporary file (not in memory) and
/// fetched after it, one at a time: from storage, or from the durable copy in the database while still pending.
/// </summary>
public sealed partial class ZipExport(BulkDataSource bulk, DeliveryOutbox deliveries, ResponseStorage storage, string spoolFolder,
    ILogger logger)
{
    public const string CsvPath = "responses.csv";
    public const string ManifestPath = "manifest.json";

    private static readonly JsonWriterOptions ManifestJson = new() { Indented = true };

    public long Rows { get; private set; }
    public long Files { get; private set; }
    public long MissingFiles { get; private set; }

    /// <summary>Writes the archive. Storage failing (not answering) or the client leaving throws; an object storage
    /// says is gone is listed under <c>missing</c> in the manifest instead.</summary>
    public async Task WriteAsync(Stream body, ExportFilter filter, CancellationToken cancellationToken)
    {
        await using var fileList = Spool();
        await using var manifestFiles = Spool();
        var missing = new List<(Guid ResponseId, string ObjectName)>();
        var zipBody = new ZipBodyStream(body);
        await using (var zip = await ZipArchive.CreateAsync(zipBody, ZipArchiveMode.Create, leaveOpen: true, entryNameEncoding: null,
            cancellationToken))
        {
            await using var manifest = new Utf8JsonWriter(manifestFiles, ManifestJson);
            manifest.WriteStartArray();
            await WriteCsvAsync(zip, filter, fileList, manifest, cancellationToken);

            fileList.Position = 0;
            using var list = new BinaryReader(fileList, Encoding.UTF8, leaveOpen: true);
            while (fileList.Position < fileList.Length)
            {
                var file = NotedFile.Read(list);
                if (!await WriteFileAsync(zip, file, manifest, cancellationToken))
                {
                    missing.Add((file.ResponseId, file.ObjectName));
                }
            }

            manifest.WriteEndArray();
            await manifest.FlushAsync(cancellationToken);
            await WriteManifestAsync(zip, filter, manifestFiles, missing, cancellationToken);
        }

        await zipBody.FlushAsync(cancellationToken);
    }

    private async Task WriteCsvAsync(ZipArchive zip, ExportFilter filter, FileStream fileList, Utf8JsonWriter manifest,
        CancellationToken cancellationToken)
    {
        var entry = zip.CreateEntry(CsvPath, CompressionLevel.Fastest);
        entry.LastWriteTime = DateTimeOffset.UtcNow;
        await using var entryStream = await entry.OpenAsync(cancellationToken);
        await using var hashed = new ExportStream(entryStream, hash: true);
        var writer = new ExportRowWriter(hashed, ExportRowWriter.Csv);
        using var list = new BinaryWriter(fileList, Encoding.UTF8, leaveOpen: true);
        await writer.WriteHeaderAsync(cancellationToken);
        await foreach (var row in ExportRows.ReadAsync(bulk.DataSource, filter, cancellationToken))
        {
            await writer.WriteAsync(row, cancellationToken);
            Rows = writer.Rows;
            if (row.HasFile)
            {
                new NotedFile(row.ResponseId!.Value, row.FileObjectName!, ExportRows.ZipPath(row), row.VisitorNumber,
                    row.FileSizeBytes ?? 0, row.Pending, row.CreatedAt ?? DateTimeOffset.UtcNow).Write(list);
            }
        }

        await writer.FlushAsync(cancellationToken);
        Rows = writer.Rows;
        WriteManifestEntry(manifest, CsvPath, null, null, hashed, pending: false);
    }

    /// <summary>False when the file is in neither place any more (nothing written for it).</summary>
    private async Task<bool> WriteFileAsync(ZipArchive zip, NotedFile file, Utf8JsonWriter manifest, CancellationToken cancellationToken)
    {
        Google.Apis.Storage.v1.Data.Object? stored = null;
        if (!file.Pending)
        {
            if (!storage.IsConfigured || (stored = await storage.FindAsync(file.ObjectName, cancellationToken)) is null)
            {
                LogMissing(logger, file.ResponseId);
                MissingFiles++;
                return false;
            }
        }

        // Stored as they are: recordings and photos are compressed already.
        var entry = zip.CreateEntry(file.Path, CompressionLevel.NoCompression);
        entry.LastWriteTime = file.CreatedAt;
        await using (var entryStream = await entry.OpenAsync(cancellationToken))
        {
            await using var hashed = new ExportStream(entryStream, hash: true);
            if (stored is not null)
            {
                await storage.DownloadAsync(stored, hashed, cancellationToken);
            }
            else
            {
                await CopyPendingAsync(file, hashed, cancellationToken);
            }

            WriteManifestEntry(manifest, file.Path, file.ResponseId, file.VisitorNumber, hashed, file.Pending);
        }

        Files++;
        return true;
    }

    /// <summary>From the durable copy, slice by slice; a delivery that completes meanwhile deletes it, and the rest
    /// then comes from storage (the same bytes), as the download route does.</summary>
    private async Task CopyPendingAsync(NotedFile file, Stream destination, CancellationToken cancellationToken)
    {
        await using var content = deliveries.OpenContent(file.ResponseId, file.Size);
        try
        {
            await content.CopyToAsync(destination, DeliveryOutbox.ChunkBytes / 4, cancellationToken);
        }
        catch (PendingContentGoneException gone) when (storage.IsConfigured)
        {
            await storage.DownloadFromAsync(file.ObjectName, gone.Offset, destination, cancellationToken);
        }
    }

    private static void WriteManifestEntry(Utf8JsonWriter manifest, string path, Guid? responseId, int? visitorNumber,
        ExportStream hashed, bool pending)
    {
        manifest.WriteStartObject();
        manifest.WriteString("path", path);
        if (responseId is { } id)
        {
            manifest.WriteString("responseId", id);
        }

        if (visitorNumber is { } number)
        {
            manifest.WriteNumber("visitorNumber", number);
        }

        manifest.WriteNumber("size", hashed.Written);
        manifest.WriteString("md5", hashed.Md5Base64());
        manifest.WriteString("sha256", hashed.Sha256Hex());
        if (pending)
        {
            manifest.WriteBoolean("pending", true);
        }

        manifest.WriteEndObject();
        manifest.Flush(); // to the temporary file: the writer's buffer stays small however many files
    }

    private async Task WriteManifestAsync(ZipArchive zip, ExportFilter filter, FileStream manifestFiles,
        List<(Guid ResponseId, string ObjectName)> missing, CancellationToken cancellationToken)
    {
        var entry = zip.CreateEntry(ManifestPath, CompressionLevel.Fastest);
        entry.LastWriteTime = DateTimeOffset.UtcNow;
        await using var entryStream = await entry.OpenAsync(cancellationToken);
        await using (var head = new Utf8JsonWriter(entryStream, ManifestJson))
        {
            head.WriteStartObject();
            head.WriteString("exportedAt", DateTimeOffset.UtcNow);
            head.WriteString("mode", filter.Mode);
            WriteNumberOrNull(head, "from", filter.From);
            WriteNumberOrNull(head, "to", filter.To);
            if (filter.ExperimentId is { } experimentId)
            {
                head.WriteString("experimentId", experimentId);
            }

            head.WriteNumber("rows", Rows);
            // People who withdrew: their data was erased, so they have no rows or files here.
            head.WriteNumber("withdrawn", await ExportRows.CountWithdrawnAsync(bulk.DataSource, filter, cancellationToken));
            head.WriteString("checksums", "size in bytes; md5 in base64 (as file_md5 in the CSV); sha256 in hex (as sha256sum)");
            head.WriteStartArray("missing");
            foreach (var (responseId, objectName) in missing)
            {
                head.WriteStartObject();
                head.WriteString("responseId", responseId);
                head.WriteString("objectName", objectName);
                head.WriteEndObject();
            }

            head.WriteEndArray();
            head.WritePropertyName("files");
            await head.FlushAsync(cancellationToken);
        }

        // The file list was written as one JSON array: it becomes the value of "files".
        await entryStream.WriteAsync(" "u8.ToArray(), cancellationToken);
        manifestFiles.Position = 0;
        await manifestFiles.CopyToAsync(entryStream, cancellationToken);
        await entryStream.WriteAsync("\n}\n"u8.ToArray(), cancellationToken);
    }

    private static void WriteNumberOrNull(Utf8JsonWriter json, string name, int? value)
    {
        if (value is { } number)
        {
            json.WriteNumber(name, number);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    private FileStream Spool() => new(Path.Combine(spoolFolder, $"mindjourney-export-{Guid.NewGuid():N}.tmp"), FileMode.CreateNew,
        FileAccess.ReadWrite, FileShare.None, 64 * 1024, FileOptions.DeleteOnClose);

    /// <summary>A file named by a CSV row, noted for after the CSV.</summary>
    private sealed record NotedFile(Guid ResponseId, string ObjectName, string Path, int? VisitorNumber, long Size, bool Pending,
        DateTimeOffset CreatedAt)
    {
        public void Write(BinaryWriter writer)
        {
            writer.Write(ResponseId.ToByteArray());
            writer.Write(ObjectName);
            writer.Write(Path);
            writer.Write(VisitorNumber ?? 0);
            writer.Write(Size);
            writer.Write(Pending);
            writer.Write(CreatedAt.UtcTicks);
        }

        public static NotedFile Read(BinaryReader reader)
        {
            var responseId = new Guid(reader.ReadBytes(16));
            var objectName = reader.ReadString();
            var path = reader.ReadString();
            var visitorNumber = reader.ReadInt32();
            return new NotedFile(responseId, objectName, path, visitorNumber == 0 ? null : visitorNumber, reader.ReadInt64(),
                reader.ReadBoolean(), new DateTimeOffset(reader.ReadInt64(), TimeSpan.Zero));
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Export: the stored file of response {ResponseId} is missing from storage")]
    private static partial void LogMissing(ILogger logger, Guid responseId);
}
