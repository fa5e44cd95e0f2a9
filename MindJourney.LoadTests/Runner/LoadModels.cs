using System.Collections.Concurrent;
using MindJourney.LoadTests.Metrics;
using MindJourney.LoadTests.Scenarios;

namespace MindJourney.LoadTests.Runner;

/// <summary>The two ways of offering load. Both stop issuing work at <c>stop</c> and return once their work drained.</summary>
internal static class LoadModels
{
    /// <summary>Closed model: N users, each in a loop; user i starts at rampUp·i/N.</summary>
    public static async Task RunClosedAsync(RunContext context, IScenario scenario, CancellationToken stop)
    {
        var options = context.Options;
        var users = options.Users;
        var tasks = new Task[users];
        for (var i = 0; i < users; i++)
        {
            var id = i;
            tasks[i] = Task.Run(() => UserLoopAsync(id), CancellationToken.None);
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);

        async Task UserLoopAsync(int id)
        {
            if (options.RampUp > TimeSpan.Zero && id > 0)
            {
                try
                {
                    await Task.Delay(options.RampUp * id / users, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            using var user = new VirtualUser(id, context.HardStop);
            for (var n = 0; (options.Iterations is null || n < options.Iterations) && !stop.IsCancellationRequested; n++)
            {
                if (!await RunOneAsync(context, scenario, user, 0).ConfigureAwait(false))
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Open model: arrivals on a fixed timetable (<see cref="ArrivalSchedule"/>) whatever the server does. Each
    /// arrival carries its scheduled time, from which its first request is measured. When the in-flight cap is reached
    /// the arrival is dropped and counted, so a stalled server shows up as drops and high latency, never as silence.
    /// </summary>
    public static async Task RunOpenAsync(RunContext context, IScenario scenario, long startTicks, long? endTicks, CancellationToken stop)
    {
        var options = context.Options;
        var rate = options.Rate!.Value;
        var ramp = options.RampUp.TotalSeconds;
        var cap = options.EffectiveMaxInFlight;
        var total = options.Iterations ?? long.MaxValue;
        var pool = new ConcurrentBag<VirtualUser>();
        var nextUserId = 0;
        long running = 0;
        var halfMs = Ticks.FromMicroseconds(500);

        try
        {
            for (long k = 0; k < total && !stop.IsCancellationRequested; k++)
            {
                var due = startTicks + Ticks.FromSeconds(ArrivalSchedule.OffsetSeconds(k, rate, ramp));
                if (endTicks is { } end && due >= end)
                {
                    break;
                }

                var now = Ticks.Now;
                if (due - now > halfMs)
                {
                    await Task.Delay(TimeSpan.FromSeconds(Ticks.ToSeconds(due - now)), stop).ConfigureAwait(false);
                    now = Ticks.Now;
                }

                if (now > due)
                {
                    context.Metrics.ScheduleLag(now - due);
                }

                if (Interlocked.Read(ref running) >= cap)
                {
                    context.Metrics.RecordDrop();
                    continue;
                }

                Interlocked.Increment(ref running);
                if (!pool.TryTake(out var user))
                {
                    user = new VirtualUser(Interlocked.Increment(ref nextUserId), context.HardStop);
                }

                _ = ArrivalAsync(user, due);
            }
        }
        catch (OperationCanceledException)
        {
            // stop: no more arrivals
        }

        // drain: the in-flight arrivals finish on their own (or at the hard stop)
        while (Interlocked.Read(ref running) > 0)
        {
            await Task.Delay(10, CancellationToken.None).ConfigureAwait(false);
        }

        foreach (var user in pool)
        {
            user.Dispose();
        }

        async Task ArrivalAsync(VirtualUser user, long scheduled)
        {
            try
            {
                await Task.Yield();
                await RunOneAsync(context, scenario, user, scheduled).ConfigureAwait(false);
            }
            finally
            {
                pool.Add(user);
                Interlocked.Decrement(ref running);
            }
        }
    }

    /// <summary>One iteration with its bookkeeping; false when the hard stop ended it.</summary>
    private static async Task<bool> RunOneAsync(RunContext context, IScenario scenario, VirtualUser user, long scheduledTicks)
    {
        context.Metrics.IterationStarted();
        try
        {
            var ok = await scenario.RunIterationAsync(user, scheduledTicks).ConfigureAwait(false);
            context.Metrics.IterationFinished(ok);
            return true;
        }
        catch (OperationCanceledException) when (context.HardStop.IsCancellationRequested)
        {
            context.Metrics.IterationAborted();
            return false;
        }
#pragma warning disable CA1031 // a bug in one iteration must not end the run; it counts as a failed iteration
        catch (Exception)
#pragma warning restore CA1031
        {
            context.Metrics.IterationFinished(false);
            return !context.HardStop.IsCancellationRequested;
        }
    }
}
