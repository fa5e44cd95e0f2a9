using System.Net;
using MindJourney.LoadTests.Checks;
using MindJourney.LoadTests.Ledger;
using MindJourney.LoadTests.Metrics;
using MindJourney.LoadTests.Options;
using MindJourney.LoadTests.Scenarios;

namespace MindJourney.LoadTests.Runner;

/// <summary>Runs a load test against the MindJourney HTTP API and checks what it handed out.</summary>
public static class LoadTestRunner
{
    /// <summary>Time after the end of the load phase that in-flight work gets before it is cut (beyond the request timeout).</summary>
    private static readonly TimeSpan DrainGrace = TimeSpan.FromSeconds(5);

    /// <summary>The handler the harness uses: one pool, enough connections for every user, recycled connections.</summary>
    public static SocketsHttpHandler CreateHandler(LoadTestOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new SocketsHttpHandler
        {
            MaxConnectionsPerServer = Math.Max(options.ConnectionLimit, 1),
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            ConnectTimeout = options.RequestTimeout,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
            AllowAutoRedirect = false,
        };
    }

    /// <inheritdoc cref="RunAsync(LoadTestOptions, HttpMessageHandler?, IProgress{LiveStats}?, CancellationToken)"/>
    public static Task<LoadTestResult> RunAsync(LoadTestOptions options, HttpMessageHandler? handler = null,
        CancellationToken cancellationToken = default) =>
        RunAsync(options, handler, progress: null, cancellationToken);

    /// <summary>
    /// Runs the load described by <paramref name="options"/>, then the domain checks and thresholds.
    /// </summary>
    /// <param name="options">Validated here too: invalid options throw <see cref="ArgumentException"/>
    /// (the loopback rule included).</param>
    /// <param name="handler">The HTTP handler to send through (not disposed); null = <see cref="CreateHandler"/>.</param>
    /// <param name="progress">Gets a <see cref="LiveStats"/> each second of the load phase.</param>
    /// <param name="cancellationToken">Stops the run early; the partial result comes back with <c>Interrupted</c>
    /// and does not pass.</param>
    public static async Task<LoadTestResult> RunAsync(LoadTestOptions options, HttpMessageHandler? handler, IProgress<LiveStats>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", problems), nameof(options));
        }

        var ownsHandler = handler is null;
        handler ??= CreateHandler(options);
        using var http = new HttpClient(handler, ownsHandler) { Timeout = Timeout.InfiniteTimeSpan };
        var startedAt = DateTimeOffset.UtcNow;
        var apiBase = options.ApiUrl.AbsoluteUri.TrimEnd('/');
        var metrics = new MetricsCollector(IScenario.StepsOf(options.Scenario));

        // setup: the study (--study's, else the active one), and the audit before
        var (experimentId, setupError) = await GetExperimentIdAsync(http, apiBase, options.Study, options.RequestTimeout,
            cancellationToken).ConfigureAwait(false);
        if (setupError is not null || cancellationToken.IsCancellationRequested)
        {
            return Unstarted(
                options,
                metrics,
                startedAt,
                cancellationToken.IsCancellationRequested ? null : setupError,
                cancellationToken.IsCancellationRequested);
        }

        // The warm-up's acknowledgements are acknowledgements too: the ledger keeps them.
        using var acknowledged = LedgerWriter.Open(options.Ledger);
        if (options.WarmUp > TimeSpan.Zero)
        {
            // Its figures and sessions are thrown away; it ends (drained) before the audit below.
            var warmUp = options with
            {
                Duration = options.WarmUp,
                Iterations = null,
                RampUp = options.RampUp < options.WarmUp ? options.RampUp : options.WarmUp,
            };
            await RunLoadPhaseAsync(warmUp, http, new MetricsCollector(IScenario.StepsOf(options.Scenario)), new RunLedger(),
                experimentId, progress: null, acknowledged, cancellationToken).ConfigureAwait(false);
        }

        var before = options.AdminKey is { } key
            ? await AdminClient.GetAuditAsync(http, apiBase, key, options.RequestTimeout, cancellationToken).ConfigureAwait(false)
            : default;
        var studyBefore = await ReadStudyAsync(options, http, apiBase, experimentId, cancellationToken).ConfigureAwait(false);

        var ledger = new RunLedger();
        var seconds = await RunLoadPhaseAsync(options, http, metrics, ledger, experimentId, progress, acknowledged, cancellationToken)
            .ConfigureAwait(false);
        var interrupted = cancellationToken.IsCancellationRequested;

        // after: audit, uploads, checks
        var after = options.AdminKey is { } keyAfter && !interrupted
            ? await AdminClient.GetAuditAsync(http, apiBase, keyAfter, options.RequestTimeout, cancellationToken).ConfigureAwait(false)
            : default;
        var studyAfter = interrupted ? default
            : await ReadStudyAsync(options, http, apiBase, experimentId, cancellationToken).ConfigureAwait(false);
        var sessions = ledger.Sessions.ToArray();
        var numbers = sessions.Where(s => s.VisitorNumber is not null).Select(s => s.VisitorNumber!.Value).Order().ToArray();
        var checks = await CheckAsync(options, http, apiBase, ledger, sessions, numbers, before, after, interrupted, cancellationToken)
            .ConfigureAwait(false);
        if (options.Study is not null)
        {
            checks.AddRange(StudyCheckList(options, sessions, ledger.RefusedFull, studyBefore, studyAfter, interrupted));
        }

        // totals and thresholds
        var steps = metrics.Steps.Select(s => s.ToResult(seconds, options.Percentiles, options.Model == LoadModel.Open)).ToArray();
        var totals = Totals(metrics, steps, sessions, seconds);
        var p99 = metrics.AllRequests([99]).At(99) ?? 0;
        var thresholds = ThresholdEvaluator.Evaluate(options, p99, totals.ErrorRate, totals.Ok / seconds);
        var passed = !interrupted && checks.All(c => c.Outcome != CheckOutcome.Failed) && thresholds.All(t => t.Passed);

        return NewResult(options, startedAt, interrupted, totals, metrics.AllRequests(options.Percentiles)) with
        {
            DurationSeconds = seconds,
            Steps = steps,
            Series = metrics.Series,
            Checks = checks,
            Thresholds = thresholds,
            AuditBefore = before.Snapshot,
            AuditAfter = after.Snapshot,
            VisitorNumbers = numbers,
            StudyNumbers = sessions.Where(s => s.StudyNumber is not null).Select(s => s.StudyNumber!.Value).Order().ToArray(),
            StudyBefore = studyBefore.Study,
            StudyAfter = studyAfter.Study,
            Passed = passed,
        };
    }

    /// <summary>Offers the load (open or closed model) until the duration or the iterations are used up, then gives
    /// work in flight the request timeout plus a grace to finish. Returns the load phase's length in seconds.</summary>
    private static async Task<double> RunLoadPhaseAsync(LoadTestOptions options, HttpClient http, MetricsCollector metrics,
        RunLedger ledger, Guid experimentId, IProgress<LiveStats>? progress, LedgerWriter? acknowledged,
        CancellationToken cancellationToken)
    {
        using var hard = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var targets = new ApiTargets(options.LoadUrls, options.Study);
        var executor = new HttpExecutor(http, metrics, options.RequestTimeout, targets, acknowledged);
        var context = new RunContext(options, executor, metrics, ledger, experimentId, hard.Token, acknowledged);
        var scenario = IScenario.For(options.Scenario, context);

        var loadStart = Ticks.Now;
        metrics.Start(loadStart);
        long? endTicks = options.EffectiveDuration is { } duration ? loadStart + Ticks.FromTimeSpan(duration) : null;
        using var stopRegistration = stop.Token.Register(() =>
        {
            try
            {
                hard.CancelAfter(options.RequestTimeout + DrainGrace);
            }
            catch (ObjectDisposedException)
            {
                // the run already ended
            }
        });
        if (options.EffectiveDuration is { } d)
        {
            stop.CancelAfter(d);
        }

        using var samplerStop = new CancellationTokenSource();
        var sampler = SampleEverySecondAsync(metrics, progress, samplerStop.Token);

        if (options.Model == LoadModel.Open)
        {
            await LoadModels.RunOpenAsync(context, scenario, loadStart, endTicks, stop.Token).ConfigureAwait(false);
        }
        else
        {
            await LoadModels.RunClosedAsync(context, scenario, stop.Token).ConfigureAwait(false);
        }

        var loadEnd = Ticks.Now;
        await executor.DrainAbandonedAsync().ConfigureAwait(false);
        await samplerStop.CancelAsync().ConfigureAwait(false);
        await sampler.ConfigureAwait(false);
        var last = metrics.Sample(loadEnd); // the final, partial interval: always taken, with or without a listener
        progress?.Report(last);
        return Math.Max(Ticks.ToSeconds(loadEnd - loadStart), 1e-6);
    }

    /// <summary>The domain checks, in report order: each passes, fails, or says why it was skipped.</summary>
    private static async Task<List<CheckResult>> CheckAsync(LoadTestOptions options, HttpClient http, string apiBase, RunLedger ledger,
        CreatedSession[] sessions, int[] numbers, (AuditSnapshot? Snapshot, string? Error) before,
        (AuditSnapshot? Snapshot, string? Error) after, bool interrupted, CancellationToken cancellationToken)
    {
        var checks = new List<CheckResult>
        {
            VisitorNumberChecks.Uniqueness(sessions.Select(s => s.VisitorNumber), options.AllowFallback),
            Contiguity(options, numbers, sessions.Length, before.Snapshot, before.Error, after.Snapshot, after.Error),
        };

        checks.Add(options.Scenario == ScenarioKind.Journey
            ? VisitorNumberChecks.ResponsesCarrySessionNumber(
                ledger.ResponsesCompared,
                ledger.ResponsesMismatched,
                ledger.MismatchExamples.ToArray())
            : CheckResult.Skip(
                CheckNames.ResponsesCarrySessionNumber,
                "the session scenario creates no responses (use --scenario journey)"));

        checks.Add(options.AdminKey is null
            ? CheckResult.Skip(CheckNames.AuditClean, "needs --admin-key (or ADMIN_API_KEY) to read the audit")
            : after.Snapshot is not null
                ? VisitorNumberChecks.AuditClean(after.Snapshot)
                : CheckResult.Fail(CheckNames.AuditClean, after.Error ?? "the audit after the run was not read"));

        if (options.Scenario == ScenarioKind.Journey)
        {
            var uploads = ledger.Uploads.ToArray();
            var sample = UploadChecks.Sample(uploads, options.VerifySample);
            checks.Add(UploadChecks.Stored(sample, uploads.Length));
            checks.Add(interrupted
                ? CheckResult.Skip(CheckNames.UploadsDownloadMatch, "the run was interrupted")
                : await UploadChecks.DownloadMatchAsync(http, apiBase, sample, options.AdminKey, options.RequestTimeout, cancellationToken)
                    .ConfigureAwait(false));
        }
        else
        {
            checks.Add(CheckResult.Skip(CheckNames.UploadsStored, "the session scenario uploads nothing (use --scenario journey)"));
            checks.Add(CheckResult.Skip(CheckNames.UploadsDownloadMatch, "the session scenario uploads nothing (use --scenario journey)"));
        }

        checks.Add(await AnswersExactlyOnceAsync(options, http, apiBase, ledger, sessions, interrupted, cancellationToken)
            .ConfigureAwait(false));

        return checks;
    }

    /// <summary>With <c>--study</c> and an admin key, the study's cap and people as the admin API answers them.</summary>
    private static async Task<(StudySnapshot? Study, string? Error)> ReadStudyAsync(LoadTestOptions options, HttpClient http,
        string apiBase, Guid studyId, CancellationToken cancellationToken) =>
        options is { Study: not null, AdminKey: { } key }
            ? await AdminClient.GetStudyAsync(http, apiBase, key, studyId, options.RequestTimeout, cancellationToken).ConfigureAwait(false)
            : default;

    /// <summary>The checks of a run in one study: its people contiguous in study participant number, and with
    /// <c>--expect-full</c> its cap filled exactly.</summary>
    private static IEnumerable<CheckResult> StudyCheckList(LoadTestOptions options, CreatedSession[] sessions, long refused,
        (StudySnapshot? Study, string? Error) before, (StudySnapshot? Study, string? Error) after, bool interrupted)
    {
        var readError = options.AdminKey is null ? null : before.Error ?? after.Error;
        if (interrupted || readError is not null)
        {
            var why = interrupted ? "the run was interrupted" : readError!;
            yield return interrupted ? CheckResult.Skip(CheckNames.StudyNumbersContiguous, why)
                : CheckResult.Fail(CheckNames.StudyNumbersContiguous, why);
            if (options.ExpectFull)
            {
                yield return interrupted ? CheckResult.Skip(CheckNames.StudyFullExactly, why)
                    : CheckResult.Fail(CheckNames.StudyFullExactly, why);
            }

            yield break;
        }

        yield return StudyChecks.Contiguous(sessions.Select(s => s.StudyNumber).ToArray(), before.Study, after.Study);
        if (options.ExpectFull)
        {
            yield return StudyChecks.FullExactly(sessions.Count(s => s.StudyNumber is not null), refused, before.Study, after.Study);
        }
    }

    /// <summary>Reads the stored answers back through the admin export (the key needed, like the audit) and compares
    /// them with the ledger.</summary>
    private static async Task<CheckResult> AnswersExactlyOnceAsync(LoadTestOptions options, HttpClient http, string apiBase,
        RunLedger ledger, CreatedSession[] sessions, bool interrupted, CancellationToken cancellationToken)
    {
        const string name = CheckNames.AnswersExactlyOnce;
        if (options.Scenario != ScenarioKind.Journey)
        {
            return CheckResult.Skip(name, "the session scenario sends no answers (use --scenario journey)");
        }

        if (options.AdminKey is not { } key)
        {
            return CheckResult.Skip(name, "needs --admin-key (or ADMIN_API_KEY) to read the stored answers back (the export)");
        }

        if (interrupted)
        {
            return CheckResult.Skip(name, "the run was interrupted");
        }

        // Only the run's numbers, when every session has one (a fallback session has none to filter by).
        var numbered = sessions.Length > 0 && sessions.All(s => s.VisitorNumber is not null);
        var (stored, error) = await AdminClient.ExportAnswersAsync(http, apiBase, key,
            numbered ? sessions.Min(s => s.VisitorNumber) : null, numbered ? sessions.Max(s => s.VisitorNumber) : null,
            options.RequestTimeout, cancellationToken).ConfigureAwait(false);
        return stored is null
            ? CheckResult.Fail(name, error ?? "the stored answers were not read")
            : AnswerChecks.ExactlyOnce(ledger.Answers.ToArray(), sessions.Select(s => s.Id).ToHashSet(), stored);
    }

    private static RunTotals Totals(MetricsCollector metrics, StepResult[] steps, CreatedSession[] sessions, double seconds)
    {
        var ok = steps.Sum(s => s.Ok);
        var failed = steps.Sum(s => s.Failed);
        var refused = steps.Sum(s => s.Refused);
        var dropped = metrics.Dropped;
        var attempts = ok + failed + refused + dropped;
        return new RunTotals
        {
            Requests = ok + failed + refused,
            Ok = ok,
            Failed = failed,
            Refused = refused,
            Dropped = dropped,
            Aborted = metrics.Aborted,
            IterationsOk = metrics.IterationsOk,
            IterationsFailed = metrics.IterationsFailed,
            Rps = (ok + failed + refused) / seconds,
            ErrorRate = attempts == 0 ? 0 : (failed + dropped) / (double)attempts,
            SessionsCreated = sessions.Length,
            FallbackSessions = sessions.Count(s => s.VisitorNumber is null),
            BytesSent = steps.Sum(s => s.BytesSent),
            BytesReceived = steps.Sum(s => s.BytesReceived),
            MaxScheduleLagMs = metrics.MaxScheduleLagMs,
        };
    }

    private static CheckResult Contiguity(LoadTestOptions options, int[] numbers, int sessions, AuditSnapshot? before, string? beforeError,
        AuditSnapshot? after, string? afterError)
    {
        if (numbers.Length == 0 && sessions > 0 && options.AllowFallback)
        {
            return CheckResult.Skip(
                CheckNames.VisitorNumbersContiguous,
                "every session was a fallback (null number), allowed by --allow-fallback");
        }

        if (options.AdminKey is null)
        {
            return VisitorNumberChecks.ContiguousAmongThemselves(numbers);
        }

        if (before is null || after is null)
        {
            return CheckResult.Fail(CheckNames.VisitorNumbersContiguous, beforeError ?? afterError ?? "the audit was not read");
        }

        return VisitorNumberChecks.ContiguousWithSequence(numbers, before.SequenceLastValue, after.SequenceLastValue);
    }

    private static async Task SampleEverySecondAsync(MetricsCollector metrics, IProgress<LiveStats>? progress, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                var live = metrics.Sample(Ticks.Now);
                progress?.Report(live);
            }
        }
        catch (OperationCanceledException)
        {
            // the load phase ended
        }
    }

    /// <summary>The id of the study the run plays in: <paramref name="study"/>'s (looked up once, by its slug), else the
    /// most recently opened open one.</summary>
    private static async Task<(Guid Id, string? Error)> GetExperimentIdAsync(HttpClient http, string apiBase, string? study,
        TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var url = apiBase + RunContext.ExperimentPath(study);
        try
        {
            using var response = await http.GetAsync(url, cts.Token).ConfigureAwait(false);
            var body = await response.Content.ReadAsByteArrayAsync(cts.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                var answered = $"GET {url} answered {(int)response.StatusCode} {response.ReasonPhrase}";
                var (_, detail) = ApiJson.ReadProblem(body);
                return (Guid.Empty, (study, response.StatusCode) switch
                {
                    (null, _) => answered + "; the run needs an active experiment",
                    (_, HttpStatusCode.NotFound) => $"study '{study}' does not exist ({answered}); check --study",
                    _ => $"study '{study}' cannot be played ({answered}{(detail is null ? "" : ": " + detail)})",
                });
            }

            return ApiJson.TryReadExperiment(body, out var id, out _)
                ? (id, null)
                : (Guid.Empty, $"GET {url} answered a body without an experiment id");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (Guid.Empty, $"GET {url} timed out after {timeout.TotalSeconds:0.#} s; is the API running?");
        }
        catch (OperationCanceledException)
        {
            return (Guid.Empty, "interrupted");
        }
        catch (HttpRequestException e)
        {
            return (Guid.Empty, $"GET {url} failed: {e.Message}; is the API running?");
        }
    }

    private static LoadTestResult Unstarted(LoadTestOptions options, MetricsCollector metrics, DateTimeOffset startedAt, string? error,
        bool interrupted)
    {
        const string reason = "the load did not start";
        return NewResult(options, startedAt, interrupted, new RunTotals(), LatencySummary.Empty(options.Percentiles)) with
        {
            FatalError = error,
            Steps = metrics.Steps.Select(s => s.ToResult(0, options.Percentiles, options.Model == LoadModel.Open)).ToArray(),
            Checks =
            [
                CheckResult.Skip(CheckNames.VisitorNumbersUnique, reason),
                CheckResult.Skip(CheckNames.VisitorNumbersContiguous, reason),
                CheckResult.Skip(CheckNames.ResponsesCarrySessionNumber, reason),
                CheckResult.Skip(CheckNames.AuditClean, reason),
                CheckResult.Skip(CheckNames.UploadsStored, reason),
                CheckResult.Skip(CheckNames.UploadsDownloadMatch, reason),
                CheckResult.Skip(CheckNames.AnswersExactlyOnce, reason),
                .. options.Study is null ? [] : new[] { CheckResult.Skip(CheckNames.StudyNumbersContiguous, reason) },
                .. options.ExpectFull ? new[] { CheckResult.Skip(CheckNames.StudyFullExactly, reason) } : [],
            ],
            Passed = false,
        };
    }

    /// <summary>What every result carries, the options without the admin key among them.</summary>
    private static LoadTestResult NewResult(LoadTestOptions options, DateTimeOffset startedAt, bool interrupted, RunTotals totals,
        LatencySummary allRequests) => new()
        {
            Options = options with { AdminKey = null },
            AdminKeyProvided = options.AdminKey is not null,
            Model = options.Model,
            Scenario = options.Scenario,
            StartedAt = startedAt,
            FinishedAt = DateTimeOffset.UtcNow,
            Interrupted = interrupted,
            Totals = totals,
            AllRequests = allRequests,
        };
}
