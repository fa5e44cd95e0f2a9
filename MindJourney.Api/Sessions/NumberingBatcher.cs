using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using MindJourney.Api.Infrastructure;
using MindJourney.Api.Telemetry;
using Npgsql;

namespace MindJourney.Api.Sessions;

/// <summary>
/// Numbers the new visitors that arrive while a numbering statement is in flight together, in the next one
/// (<see cref="VisitorNumberSql.NewVisitors"/>: one round trip, one commit), in arrival order. A request alone is
/// sent at once: there is no waiting window. A request the batch does not number (see NewVisitors) comes back
/// without a row, and so does every request of a batch PostgreSQL refused: the caller sends it through the single
/// statement, so a fallback happens only for a request whose own numbering PostgreSQL refuses.
/// </summary>
public sealed partial class NumberingBatcher : IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly VisitorNumberingTelemetry _telemetry;
    private readonly ILogger<NumberingBatcher> _logger;
    private readonly int _maxBatchSize;
    private readonly int _maxInFlight;
    private readonly SemaphoreSlim _statements;
    private readonly Channel<Pending> _waiting = Channel.CreateUnbounded<Pending>();
    private readonly Task _sender;

    public NumberingBatcher(NpgsqlDataSource dataSource, VisitorNumberingTelemetry telemetry, IOptions<NumberingOptions> options,
        ILogger<NumberingBatcher> logger)
    {
        _dataSource = dataSource;
        _telemetry = telemetry;
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

    /// <summary>Requests waiting for a statement (not yet sent).</summary>
    internal int Waiting => _waiting.Reader.Count;

    /// <summary>Numbers a new visitor with those waiting beside it. Null when the batch did not number it: the
    /// caller sends it through the single statement. Throws <see cref="DatabaseUnavailableException"/> when the
    /// database could not be reached. Cancellation counts only until the request's statement is sent: from then
    /// on it runs to its end, so a client that leaves never burns a number.</summary>
    internal async Task<NumberingRow?> NumberAsync(NumberingRequest args, CancellationToken cancellationToken)
    {
        var pending = new Pending(args, Activity.Current);
        if (!_waiting.Writer.TryWrite(pending))
        {
            return null; // shutting down: the single statement still serves it
        }

        await using var leaving = cancellationToken.Register(static p => ((Pending)p!).TryCancel(), pending);
        return await pending.Result.Task;
    }

    private async Task SendBatchesAsync()
    {
        var reader = _waiting.Reader;
        while (await reader.WaitToReadAsync())
        {
            await _statements.WaitAsync();
            var batch = Take(reader);
            if (batch.Count == 0)
            {
                _statements.Release();
                continue;
            }

            _ = SendAsync(batch);
        }
    }

    /// <summary>What waits, in arrival order, up to the batch size. Equal Idempotency-Keys never share a
    /// statement: the batch ends before the second, which leads the next one (and there replays the first).</summary>
    private List<Pending> Take(ChannelReader<Pending> reader)
    {
        var batch = new List<Pending>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        while (batch.Count < _maxBatchSize && reader.TryPeek(out var next))
        {
            if (next.Args.IdempotencyKey is { } key && keys.Contains(key))
            {
                break;
            }

            reader.TryRead(out _);
            if (!next.TryTake())
            {
                continue; // its client left before it was sent
            }

            if (next.Args.IdempotencyKey is { } taken)
            {
                keys.Add(taken);
            }

            batch.Add(next);
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
            var rows = new NumberingRow?[batch.Count];
            try
            {
                await ExecuteAsync(batch, rows);
            }
            catch (PostgresException ex) when (!ex.IsTransient)
            {
                // Which request PostgreSQL refused cannot be told from here: each goes through the single statement.
                LogBatchRefused(_logger, batch.Count, ex.SqlState, ex);
                rows.AsSpan().Clear();
            }
            catch (NpgsqlException ex)
            {
                foreach (var pending in batch)
                {
                    pending.Result.TrySetException(new DatabaseUnavailableException(ex));
                }

                return;
            }
            catch (Exception ex)
            {
                foreach (var pending in batch)
                {
                    pending.Result.TrySetException(ex);
                }

                return;
            }

            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Result.TrySetResult(rows[i]);
            }
        }
        finally
        {
            _statements.Release();
        }
    }

    private async Task ExecuteAsync(List<Pending> batch, NumberingRow?[] rows)
    {
        // Not the requests' cancellation: once sent, the statement runs to its end.
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlBatch(connection);
        command.BatchCommands.Add(new NpgsqlBatchCommand(VisitorNumberSql.PlanWithIndexes));
        var keys = batch.Select(p => p.Args.IdempotencyKey).OfType<string>().ToArray();
        if (keys.Length > 0)
        {
            var lockKeys = new NpgsqlBatchCommand(VisitorNumberSql.LockKeys);
            lockKeys.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = keys });
            command.BatchCommands.Add(lockKeys);
        }

        // The batch's studies' rows, after the key locks (the order the single statement takes them in).
        var lockStudies = new NpgsqlBatchCommand(VisitorNumberSql.LockStudies);
        lockStudies.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. batch.Select(p => p.Args.ExperimentId).Distinct()] });
        command.BatchCommands.Add(lockStudies);
        command.BatchCommands.Add(NumberingStatement.ForMany(VisitorNumberSql.NewVisitors, [.. batch.Select(p => p.Args)]));

        await using var reader = await command.ExecuteReaderAsync();
        for (var before = command.BatchCommands.Count - 1; before > 0; before--)
        {
            await reader.NextResultAsync();
        }

        var columns = new NumberingStatement.Columns(reader);
        var position = reader.GetOrdinal(NumberingStatement.Position);
        while (await reader.ReadAsync())
        {
            rows[reader.GetInt64(position) - 1] = columns.Read(reader);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _waiting.Writer.TryComplete();
        await _sender;
        // Statements in flight run to their end.
        for (var i = 0; i < _maxInFlight; i++)
        {
            await _statements.WaitAsync();
        }

        _statements.Dispose();
    }

    /// <summary>One request waiting for its batch: waiting, taken into a statement, or left by its client.</summary>
    private sealed class Pending(NumberingRequest args, Activity? parent)
    {
        private const int Queued = 0;
        private const int Taken = 1;
        private const int Left = 2;
        private int _state = Queued;

        public NumberingRequest Args { get; } = args;
        public Activity? Parent { get; } = parent;
        public TaskCompletionSource<NumberingRow?> Result { get; } =
            new(TaskCreationOptions.RunContinuationsAsynchronously);

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
        Message = "A numbering statement for {Count} new visitors was refused ({SqlState}); each goes through the single statement")]
    private static partial void LogBatchRefused(ILogger logger, int count, string sqlState, Exception exception);
}
