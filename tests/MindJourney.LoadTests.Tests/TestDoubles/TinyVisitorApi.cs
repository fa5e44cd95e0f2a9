using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MindJourney.LoadTests.Tests.TestDoubles;

/// <summary>
/// TEST DOUBLE of the MindJourney HTTP surface (docs/ARCHITECTURE.md), just enough for the harness's HTTP engine: an in-memory
/// counter hands out visitor numbers. It is not the API and says nothing about the API's correctness; the real
/// end-to-end test runs against MindJourney.Api + PostgreSQL. Listens on 127.0.0.1 with a free port.
/// </summary>
public sealed class TinyVisitorApi : IAsyncDisposable
{
    public const string Key = "tiny-admin-key";

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<Guid, Session> _sessions = new();
    private readonly ConcurrentDictionary<string, Session> _byIdempotencyKey = new();
    private readonly ConcurrentDictionary<Guid, byte[]> _files = new();
    private readonly ConcurrentQueue<StoredRow> _stored = new();
    private readonly ConcurrentDictionary<(Guid Session, string Key), Lazy<IResult>> _answersByKey = new();
    private readonly TinyOptions _options;
    private long _sequence;
    private long _sessionCount;
    private long _responses;

    private TinyVisitorApi(WebApplication app, TinyOptions options)
    {
        _app = app;
        _options = options;
        _sequence = options.SequenceStart;
    }

    public sealed record TinyOptions
    {
        /// <summary>Numbers already handed out before the run (the sequence's last value at start).</summary>
        public long SequenceStart { get; init; }

        /// <summary>When set, the n-th session (1-based) gets the previous session's number again: a duplicate.</summary>
        public int? DuplicateAtSession { get; init; }

        /// <summary>When set, the n-th session burns a number (the sequence skips one): a gap.</summary>
        public int? GapAtSession { get; init; }

        /// <summary>When set, responses carry this number instead of their session's.</summary>
        public int? WrongResponseNumber { get; init; }

        /// <summary>Delay before answering POST /api/session.</summary>
        public TimeSpan SessionDelay { get; init; }

        /// <summary>Delay before storing an answer (so a cut can land while the answer is in flight).</summary>
        public TimeSpan ResponseDelay { get; init; }

        /// <summary>When set, an answer's Idempotency-Key makes its retries return the first answer; otherwise each
        /// attempt stores a new row.</summary>
        public bool HonourAnswerKeys { get; init; }
    }

    private sealed record StoredRow(Guid Id, Guid SessionId, string LevelId, string QuestionId, string ResponseType);

    public Guid ExperimentId { get; } = Guid.NewGuid();

    public Uri ApiUrl { get; private set; } = null!;

    public long SessionsCreated => Interlocked.Read(ref _sessionCount);

    public long ResponsesCreated => Interlocked.Read(ref _responses);

    public static async Task<TinyVisitorApi> StartAsync(TinyOptions? options = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var api = new TinyVisitorApi(app, options ?? new TinyOptions());
        api.Map();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        api.ApiUrl = new Uri(address.TrimEnd('/') + "/api");
        return api;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private sealed record Session(Guid Id, Guid UserId, int? VisitorNumber, DateTimeOffset CreatedAt)
    {
        public int CurrentLevel { get; set; } = 1;

        public bool IsCompleted { get; set; }
    }

    private void Map()
    {
        var levelIds = Enumerable.Range(1, 3).Select(_ => Guid.NewGuid()).ToArray();

        _app.MapGet("/api/experiment", () => Results.Json(new
        {
            id = ExperimentId,
            title = "Tiny",
            description = "test double",
            totalLevels = 3,
            isActive = true,
            createdAt = DateTimeOffset.UtcNow,
        }));

        _app.MapGet("/api/experiment/{id:guid}/levels", (Guid id) => id != ExperimentId
            ? Results.NotFound()
            : Results.Json(levelIds.Select((lid, i) => new
            {
                id = lid,
                experimentId = ExperimentId,
                levelNumber = i + 1,
                questions = new object[] { new { id = $"l{i + 1}q1", text = "?" }, new { id = $"l{i + 1}q2", text = "?" } },
            })));

        _app.MapPost("/api/session", async (HttpRequest request) =>
        {
            using var body = await JsonDocument.ParseAsync(request.Body);
            if (!body.RootElement.TryGetProperty("experimentId", out var e) || e.GetGuid() != ExperimentId)
            {
                return Results.Problem(statusCode: 400, title: "unknown experiment");
            }

            if (_options.SessionDelay > TimeSpan.Zero)
            {
                await Task.Delay(_options.SessionDelay);
            }

            var key = request.Headers["Idempotency-Key"].ToString();
            if (key.Length > 0 && _byIdempotencyKey.TryGetValue(key, out var existing))
            {
                return Results.Json(Shape(existing), statusCode: 201);
            }

            Session session;
            lock (_sessions)
            {
                var n = ++_sessionCount;
                if (_options.GapAtSession == n)
                {
                    _sequence++;
                }

                var number = _options.DuplicateAtSession == n ? _sequence : ++_sequence;
                session = new Session(Guid.NewGuid(), Guid.NewGuid(), (int)number, DateTimeOffset.UtcNow);
                _sessions[session.Id] = session;
            }

            if (key.Length > 0)
            {
                _byIdempotencyKey[key] = session;
            }

            return Results.Json(Shape(session), statusCode: 201);
        });

        _app.MapMethods("/api/session/{id:guid}", ["PATCH"], async (Guid id, HttpRequest request) =>
        {
            if (!_sessions.TryGetValue(id, out var s))
            {
                return Results.NotFound();
            }

            using var body = await JsonDocument.ParseAsync(request.Body);
            if (body.RootElement.TryGetProperty("currentLevel", out var cl))
            {
                var level = cl.GetInt32();
                if (level is < 1 or > 3)
                {
                    return Results.Problem(statusCode: 400, title: "level out of range");
                }

                s.CurrentLevel = level;
            }

            if (body.RootElement.TryGetProperty("isCompleted", out var done))
            {
                s.IsCompleted = done.GetBoolean();
            }

            return Results.Json(Shape(s));
        });

        _app.MapPost("/api/response", async (HttpRequest request) =>
        {
            string? sessionId, levelId, questionId, responseType;
            byte[]? file = null;
            if (request.HasFormContentType)
            {
                var form = await request.ReadFormAsync();
                sessionId = form["sessionId"];
                levelId = form["levelId"];
                questionId = form["questionId"];
                responseType = form["responseType"];
                if (form.Files.GetFile("file") is { } f)
                {
                    using var ms = new MemoryStream();
                    await f.CopyToAsync(ms);
                    file = ms.ToArray();
                }
            }
            else
            {
                var json = await JsonNode.ParseAsync(request.Body);
                sessionId = json?["sessionId"]?.GetValue<string>();
                levelId = json?["levelId"]?.GetValue<string>();
                questionId = json?["questionId"]?.GetValue<string>();
                responseType = json?["responseType"]?.GetValue<string>();
            }

            if (!Guid.TryParse(sessionId, out var sid) || !_sessions.TryGetValue(sid, out var session)
                || levelId is null || questionId is null || responseType is null)
            {
                return Results.Problem(statusCode: 400, title: "bad response");
            }

            if (_options.ResponseDelay > TimeSpan.Zero)
            {
                await Task.Delay(_options.ResponseDelay);
            }

            var key = request.Headers["Idempotency-Key"].ToString();
            return _options.HonourAnswerKeys && key.Length > 0
                ? _answersByKey.GetOrAdd((sid, key), _ => new(() => Store(session, sid, levelId, questionId, responseType, file))).Value
                : Store(session, sid, levelId, questionId, responseType, file);
        });

        _app.MapGet("/api/admin/export", (HttpRequest request) =>
        {
            if (request.Headers["X-Admin-Key"] != Key)
            {
                return Results.Unauthorized();
            }

            var lines = _stored.Select(r => JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["sessionId"] = r.SessionId,
                ["responseId"] = r.Id,
                ["levelId"] = r.LevelId,
                ["questionId"] = r.QuestionId,
                ["responseType"] = r.ResponseType,
            }));
            return Results.Text(string.Concat(lines.Select(l => l + "\n")), "application/x-ndjson");
        });

        IResult Store(Session session, Guid sid, string levelId, string questionId, string responseType, byte[]? file)
        {
            Interlocked.Increment(ref _responses);
            var id = Guid.NewGuid();
            _stored.Enqueue(new StoredRow(id, sid, levelId, questionId, responseType));
            var name = file is null ? "text-response.txt" : "voice.webm";
            _files[id] = file ?? "text"u8.ToArray();
            return Results.Json(
                new
                {
                    id,
                    sessionId = sid,
                    userId = session.UserId,
                    visitorNumber = _options.WrongResponseNumber ?? session.VisitorNumber,
                    levelId,
                    questionId,
                    responseType,
                    responseData = new { },
                    fileId = $"experiment-responses/2025-01-01/session-{sid:D}/{responseType}/1_{name}",
                    fileUrl = $"/api/download/{id:D}",
                    createdAt = DateTimeOffset.UtcNow,
                    storage = new
                    {
                        status = "stored",
                        objectName = $"experiment-responses/2025-01-01/session-{sid:D}/{responseType}/1_{name}"
                    },
                },
                statusCode: 201);
        }

        _app.MapGet("/api/download/{id:guid}", (Guid id, HttpRequest request) =>
            request.Headers["X-Admin-Key"] != Key ? Results.Unauthorized()
            : _files.TryGetValue(id, out var bytes) ? Results.Bytes(bytes, "audio/webm")
            : Results.NotFound());

        _app.MapGet("/api/admin/visitor-numbers/audit", (HttpRequest request) =>
        {
            if (request.Headers["X-Admin-Key"] != Key)
            {
                return Results.Unauthorized();
            }

            long last;
            int[] numbers;
            lock (_sessions)
            {
                last = _sequence;
                numbers = _sessions.Values.Where(s => s.VisitorNumber is not null).Select(s => s.VisitorNumber!.Value).ToArray();
            }

            var duplicates = numbers.GroupBy(n => n).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
            return Results.Json(new
            {
                sequenceLastValue = last,
                users = numbers.Length,
                numberedUsers = numbers.Length,
                unnumberedSessions = 0,
                duplicates,
                gaps = Array.Empty<object>(),
                mismatchedSessions = 0,
                mismatchedResponses = _options.WrongResponseNumber is null ? 0 : 1,
                pendingUploads = 0,
            });
        });
    }

    private static object Shape(Session s) => new
    {
        id = s.Id,
        userId = s.UserId,
        experimentId = Guid.Empty,
        visitorNumber = s.VisitorNumber,
        currentLevel = s.CurrentLevel,
        totalLevels = 3,
        percentComplete = s.CurrentLevel * 100 / 3,
        branchingPath = (string?)null,
        isCompleted = s.IsCompleted,
        createdAt = s.CreatedAt,
        updatedAt = DateTimeOffset.UtcNow,
    };
}
