using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Storage;
using MindJourney.Api.Telemetry;
using Npgsql;

namespace MindJourney.Api.Responses;

/// <summary>
/// Records the answers without a file that arrive while an answer statement is in flight together, in the next one
/// (<see cref="AnswerSql.RecordAnswers"/>: one round trip, one commit), in arrival order; an answer alone is sent at
/// once: there is no waiting window. A statement takes at most one answer per session, and none of a session whose
/// answer is still in flight: the next answer of a session waits for the statement after, so each statement checks
/// and bumps a session's quotas once, and a session's answers commit in the order they arrived. A statement
/// PostgreSQL refuses as a whole is sent again one answer per statement, so only the answer it refuses fails.
/// </summary>
public sealed partial class AnswerBatcher : IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly ResponsesTelemetry _telemetry;
    private readonly DeliverySignal _deliveries;
    private readonly IOptions<StorageOptions> _limits;
    private readonly ILogger<AnswerBatcher> _logger;
    private readonly int _maxBatchSize;
    private readonly int _maxInFlight;
    private readonly SemaphoreSlim _statements;
    private readonly Channel<Pending?> _arrivals = Channel.CreateUnbounded<Pending?>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _sender;

    // The sender's own: answers not yet sent, in arrival order, and the sessions with an answer in flight (also
    // cleared by statements as they end, under the lock).
    private readonly List<Pending> _backlog = [];
    private readonly HashSet<Guid> _sessionsInFlight = [];

    public AnswerBatcher(NpgsqlDataSource dataSource, ResponsesTelemetry telemetry, DeliverySignal deliveries,
        IOptions<ResponsesOptions> options, IOptions<StorageOptions> limits, ILogger<AnswerBatcher> logger)
    {
        _dataSource = dataSource;
        _telemetry = telemetry;
        _deliveries = deliveries;
        _limits = limits;
        _logger = logger;
        _maxBatchSize = options.Value.MaxBatchSize;
        _maxInFlight = options.Value.MaxStatementsInFlight;
        _statements = new SemaphoreSlim(_maxInFlight);

        // The sender belongs to no request: it must not carry the first caller's trace or cancellation along.
        using (ExecutionContext.SuppressFlow())
        {
            _sender = Task.Run(SendBatchesAsync);
        }
    }

    /// <summary>Records the answer with those waiting beside it. Throws <see cref="DatabaseUnavailableException"/>
    /// when the database could not be reached. Cancellation counts only until the answer's statement is sent: from
    /// then on it runs to its end.</summary>
    internal async Task<AnswerResult> RecordAsync(AnswerRequest answer, CancellationToken cancellationToken)
    {
        var pending = new Pending(answer, Activity.Current);
        if (!_arrivals.Writer.TryWrite(pending))
        {
            return await SendAloneAsync(answer); // shutting down: still served, on its own
        }

        await using var leaving = cancellationToken.Register(static p => ((Pending)p!).TryCancel(), pending);
        return await pending.Result.Task;
    }

    private async Task SendBatchesAsync()
    {
        var reader = _arrivals.Reader;
        while (true)
        {
            // Waits for an arrival, or for a statement's end that lets a waiting answer of its sessions go.
            if (!await reader.WaitToReadAsync())
            {
                break;
            }

            while (reader.TryRead(out var arrived))
            {
                if (arrived is not null)
                {
                    _backlog.Add(arrived);
                }
            }

            while (_backlog.Count > 0)
            {
                await _statements.WaitAsync();
                while (reader.TryRead(out var arrived))
                {
                    if (arrived is not null)
                    {
                        _backlog.Add(arrived);
                    }
                }

                var batch = Take();
                if (batch.Count == 0)
                {
                    _statements.Release();
                    break; // all that waits belongs to sessions in flight: their statements' ends wake the sender
                }

                _ = SendAsync(batch);
            }
        }

        // Shutting down: what still waits is sent, one statement after another.
        while (_backlog.Count > 0)
        {
            await _statements.WaitAsync();
            var batch = Take();
            if (batch.Count == 0)
            {
                _statements.Release();
                await Task.Delay(10);
                continue;
            }

            _ = SendAsync(batch);
        }
    }

    /// <summary>The first waiting answer of each session not in flight, in arrival order, up to the batch size.</summary>
    private List<Pending> Take()
    {
        var batch = new List<Pending>();
        var sessions = new HashSet<Guid>();
        lock (_sessionsInFlight)
        {
            var kept = 0;
            for (var i = 0; i < _backlog.Count; i++)
            {
                var next = _backlog[i];
                var session = next.Answer.SessionId;
                if (next.IsLeft)
                {
                    continue; // its client left before it was sent
                }

                if (batch.Count < _maxBatchSize && !_sessionsInFlight.Contains(session) && !sessions.Contains(session))
                {
                    if (next.TryTake())
                    {
                        sessions.Add(session);
                        batch.Add(next);
                    }

                    continue; // taken, or its client left
                }

                _backlog[kept++] = next;
            }

            _backlog.RemoveRange(kept, _backlog.Count - kept);
            _sessionsInFlight.UnionWith(sessions);
        }

        return batch;
    }

    private async Task SendAsync(List<Pending> batch)
    {
        try
        {
            _telemetry.BatchSize.Record(batch.Count);
            // The statement's database span joins the trace of the request that opened the batch.
            Activity.Current = batch[0].Parent;
            var answers = batch.Select(p => p.Answer).ToList();
            var results = new AnswerResult[batch.Count];
            try
            {
                await ExecuteAsync(answers, results);
            }
            catch (PostgresException ex) when (!ex.IsTransient && batch.Count > 1)
            {
                // Which answer PostgreSQL refused cannot be told from here: each is sent on its own.
                LogBatchRefused(_logger, batch.Count, ex.SqlState, ex);
                _telemetry.BatchFallbacks.Add(1);
                foreach (var pending in batch)
                {
                    try
                    {
                        pending.Result.TrySetResult(await SendAloneAsync(pending.Answer));
                    }
                    catch (Exception alone)
                    {
                        pending.Result.TrySetException(alone);
                    }
                }

                return;
            }
            catch (NpgsqlException ex)
            {
                Fail(batch, new DatabaseUnavailableException(ex));
                return;
            }
            catch (Exception ex)
            {
                Fail(batch, ex);
                return;
            }

            Delivered(results);
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Result.TrySetResult(results[i]);
            }
        }
        finally
        {
            lock (_sessionsInFlight)
            {
                foreach (var pending in batch)
                {
                    _sessionsInFlight.Remove(pending.Answer.SessionId);
                }
            }

            _statements.Release();
            _arrivals.Writer.TryWrite(null); // wakes the sender for answers that waited on these sessions
        }
    }

    private static void Fail(List<Pending> batch, Exception ex)
    {
        foreach (var pending in batch)
        {
            pending.Result.TrySetException(ex);
        }
    }

    private async Task<AnswerResult> SendAloneAsync(AnswerRequest answer)
    {
        var results = new AnswerResult[1];
        try
        {
            await ExecuteAsync([answer], results);
        }
        catch (NpgsqlException ex) when (ex is not PostgresException { IsTransient: false })
        {
            throw new DatabaseUnavailableException(ex);
        }

        Delivered(results);
        return results[0];
    }

    /// <summary>New text answers wait for the delivery worker: it is told at once, not at its next poll (and how many
    /// answers the statement carried, which paces it).</summary>
    private void Delivered(AnswerResult[] results)
    {
        _deliveries.AnswerStatementRan(results.Length);
        foreach (var result in results)
        {
            if (result is { Outcome: AnswerOutcome.Recorded, Stored.FileId: not null })
            {
                _deliveries.Wake();
                return;
            }
        }
    }

    private async Task ExecuteAsync(IReadOnlyList<AnswerRequest> answers, AnswerResult[] results)
    {
        // Not the requests' cancellation: once sent, the statement runs to its end.
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var batch = new NpgsqlBatch(connection);
        AnswerStatement.AddTo(batch, answers, _limits.Value);
        await using var reader = await batch.ExecuteReaderAsync();
        for (var before = batch.BatchCommands.Count - 1; before > 0; before--)
        {
            await reader.NextResultAsync();
        }

        await AnswerStatement.ReadAsync(reader, answers, results);
    }

    public async ValueTask DisposeAsync()
    {
        _arrivals.Writer.TryComplete();
        await _sender;
        // Statements in flight run to their end.
        for (var i = 0; i < _maxInFlight; i++)
        {
            await _statements.WaitAsync();
        }

        _statements.Dispose();
    }

    /// <summary>One answer waiting for its statement: waiting, taken into a statement, or left by its client.</summary>
    private sealed class Pending(AnswerRequest answer, Activity? parent)
    {
        private const int Queued = 0;
        private const int Taken = 1;
        private const int Left = 2;
        private int _state = Queued;

        public AnswerRequest Answer { get; } = answer;
        public Activity? Parent { get; } = parent;
        public TaskCompletionSource<AnswerResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool IsLeft => Volatile.Read(ref _state) == Left;

        public bool TryTake() => Interlocked.CompareExchange(ref _state, Taken, Queued) == Queued;

        public void TryCancel()
        {
            if (Interlocked.CompareExchange(ref _state, Left, Queued) == Queued)
            {
                Result.TrySetCanceled();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "An answer statement for {Count} answers was refused ({SqlState}); each is sent on its own")]
    private static partial void LogBatchRefused(ILogger logger, int count, string sqlState, Exception exception);
}
