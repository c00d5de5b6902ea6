using System.Globalization;
using System.Reflection;
using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.Jobs;
using LatentBalance.Daemon.Filters;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Filters;
using LatentBalance.Onnx;

namespace LatentBalance.Daemon;

/// <summary>
/// The one engine service: every balance goes through it. The daemon serves it over D-Bus and stdio; the
/// CLI calls it in-process with no transport between. Requests are checked once at the boundary
/// (<see cref="RequestChecks"/>: an error reply for bad arguments, missing or unreadable files, non-images,
/// bad output paths), then queued as jobs on a <see cref="JobRegistry"/> (several at a time: image reading
/// and writing overlap; the engine runs one inference at a time) and run by a filter
/// (<see cref="FilterJobRunner"/>). Every job and failure is logged as a JSON line.
/// </summary>
public sealed class EngineService : IEngineService, IDisposable
{
    private readonly Task<EngineLoad> _load;
    private readonly CancellationTokenSource _loadCancel;
    private readonly Task<FilterCatalog> _catalogLoad;
    /// <summary>The filters (built-in and plug-ins); waits while the plug-ins are still being discovered.</summary>
    private FilterCatalog _catalog => _catalogLoad.GetAwaiter().GetResult();
    private readonly DaemonOptions _options;
    private readonly DaemonLog _log;
    private readonly JobRegistry _jobs;
    private readonly FilterJobRunner _runner;

    /// <summary>Loads the model pack and the filters (built-in and plug-ins), and returns once both are loaded.
    /// A pack that does not load leaves the service up without the engine: latent-balance jobs then fail with
    /// Unavailable and say why.</summary>
    public static EngineService Open(DaemonOptions options, DaemonLog log, CancellationToken cancel = default)
    {
        var service = OpenInBackground(options, log, cancel);
        service.StartLoading();
        try { service._load.Wait(cancel); }
        catch (OperationCanceledException) { service.Dispose(); throw; }
        catch (AggregateException e) when (e.InnerException is OperationCanceledException o) { service.Dispose(); throw o; }
        return service;
    }

    /// <summary>Loads the filters and returns at once; the model pack loads on its own thread from
    /// <see cref="StartLoading"/> (the daemon calls it once it owns its bus name: D-Bus activation must not wait
    /// seconds, nor share the two cores with the load while it starts). Calls that need the engine (GetInfo,
    /// latent-balance jobs) start the load if it was not started and wait for it; other filters' jobs do not wait.</summary>
    public static EngineService OpenInBackground(DaemonOptions options, DaemonLog log, CancellationToken cancel = default)
    {
        // plug-in discovery runs beside the bus connection (calls that need the filters wait for it)
        var catalog = Task.Run(() => new FilterCatalog([new LatentBalanceFilter()]).LoadPlugins(FilterPluginFolders.Roots(options.FilterFolders), log));
        var loadCancel = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var load = start.Task.ContinueWith(_ => LoadEngine(options, log, loadCancel.Token), loadCancel.Token,
            TaskContinuationOptions.LongRunning, TaskScheduler.Default);
        return new EngineService(load, loadCancel, catalog, options, log) { _ownsEngine = true, _startLoad = start };
    }

    private TaskCompletionSource? _startLoad;

    /// <summary>Starts loading the model pack (<see cref="OpenInBackground"/>); does nothing the second time.</summary>
    public void StartLoading() => _startLoad?.TrySetResult();

    static EngineLoad LoadEngine(DaemonOptions options, DaemonLog log, CancellationToken cancel)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            var engine = EngineRuntime.Load(options.Pack, options.Runtime, options.Device, cancel: cancel);
            log.Info("models_loaded", ("pack", engine.PackName), ("vae", engine.Networks.VaeName), ("runtime", engine.Networks.Runtime), ("device", engine.Networks.Device), ("ms", clock.Elapsed.TotalMilliseconds));
            return new EngineLoad(engine, null);
        }
        catch (OperationCanceledException) { throw; }
        catch (Exception e)
        {
            log.Error("models_failed", ("error", e.Message), ("type", e.GetType().Name));
            return new EngineLoad(null, e);
        }
    }

    private bool _ownsEngine;

    /// <summary>The warm engine, or null when the pack did not load (<see cref="EngineError"/>); waits for a load in progress.</summary>
    public BalanceEngine? Engine => Loaded().Engine;
    public Exception? EngineError => Loaded().Error;
    /// <summary>True while the models are still loading (<see cref="OpenInBackground"/>).</summary>
    public bool Loading => !_load.IsCompleted;

    private EngineLoad Loaded()
    {
        StartLoading();
        try { return _load.GetAwaiter().GetResult(); }
        catch (OperationCanceledException e) { return new EngineLoad(null, e); }
    }
    public IReadOnlyList<IFilter> Filters => _catalog.Filters;

    /// <param name="engine">the warm engine, or null when loading failed (<paramref name="engineError"/>): latent-balance jobs then fail with Unavailable, other filters still work.</param>
    public EngineService(BalanceEngine? engine, Exception? engineError, FilterCatalog catalog, DaemonOptions options, DaemonLog log)
        : this(Task.FromResult(new EngineLoad(engine, engineError)), new CancellationTokenSource(), Task.FromResult(catalog), options, log) { }

    private EngineService(Task<EngineLoad> load, CancellationTokenSource loadCancel, Task<FilterCatalog> catalog, DaemonOptions options, DaemonLog log)
    {
        _load = load;
        _loadCancel = loadCancel;
        _catalogLoad = catalog;
        _options = options;
        _log = log;
        _jobs = new JobRegistry(options.MaxConcurrentJobs);
        _runner = new FilterJobRunner(f => new EngineFilterHost(Loaded, log, f.Description.Id), options.JobTimeout, log);
        _jobs.JobProgress += (_, e) => { Touch(); JobProgress?.Invoke(this, e); };
        _jobs.JobCompleted += (_, e) =>
        {
            Touch();
            if (e.State == JobState.Done) _log.Info("job_done", ("job", e.JobId), ("output", e.OutputPath));
            else _log.Warn("job_" + WireNames.ToWire(e.State), ("job", e.JobId), ("code", e.ErrorCode?.ToString()), ("error", e.Error));
            JobCompleted?.Invoke(this, e);
        };
    }

    public event EventHandler<JobProgressEventArgs>? JobProgress;
    public event EventHandler<JobCompletedEventArgs>? JobCompleted;

    /// <summary>Called on every request and job event (for the idle monitor).</summary>
    public Action? Activity { get; set; }

    public int ActiveJobs => _jobs.ActiveCount;

    public static string Version { get; } =
        typeof(EngineService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public async Task<EngineInfo> GetInfoAsync(CancellationToken cancellationToken = default)
    {
        Touch();
        // the models may still be loading (the daemon takes its bus name first): the reply says what is loaded
        StartLoading();
        try { await _load.WaitAsync(cancellationToken).ConfigureAwait(false); } catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested) { }
        var (engine, engineError) = Loaded();
        var details = new Dictionary<string, string>
        {
            ["active_jobs"] = _jobs.ActiveCount.ToString(CultureInfo.InvariantCulture),
            ["max_concurrent_jobs"] = _options.MaxConcurrentJobs.ToString(CultureInfo.InvariantCulture),
            ["job_timeout_s"] = _options.JobTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture),
            ["pid"] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
        };
        if (engine != null) { details["pack"] = engine.PackName; details["runtime"] = engine.Networks.Runtime; }
        // libtorch's version only where it is loaded anyway (a lean install has none; the onnx runtime never loads it)
        if (engine?.Networks.Runtime == EngineRuntime.Torch) details["torch"] = TorchVersion();
        if (engineError != null) details["engine_error"] = engineError.Message;
        return new EngineInfo
        {
            Version = Version,
            Device = engine?.Networks.Device ?? "none",
            ModelsLoaded = engine is null ? [] : [engine.Networks.VaeName, $"balancer ({engine.PackName})"],
            Filters = _catalog.Filters.Select(f => f.Description.Id).ToArray(),
            Details = details,
        };
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    static string TorchVersion() => TorchSharp.torch.__version__;

    public Task<IReadOnlyList<FilterDescriptor>> ListFiltersAsync(CancellationToken cancellationToken = default)
    {
        Touch();
        return Task.FromResult<IReadOnlyList<FilterDescriptor>>(_catalog.Filters.Select(f => FilterContract.ToDescriptor(f.Description)).ToArray());
    }

    public Task<JobTicket> BalanceAsync(BalanceRequest request, CancellationToken cancellationToken = default) => Guard("Balance", () =>
    {
        var q = RequestRules.Validate(request);
        var filter = _catalog.Get(q.FilterId);
        var spec = RequestChecks.Job(filter, FilterContract.Bind(filter.Description, q.Parameters), q.InputPath, q.OutputPath, q.LutPath, 0, q.Overwrite);
        return Queue("Balance", spec, spec.OutputPath!);
    });

    public Task<JobTicket> ExportCubeAsync(ExportCubeRequest request, CancellationToken cancellationToken = default) => Guard("ExportCube", () =>
    {
        var q = RequestRules.Validate(request);
        var filter = _catalog.Get(q.FilterId);
        var spec = RequestChecks.Job(filter, FilterContract.Bind(filter.Description, q.Parameters), q.InputPath, null, q.CubePath, q.LutSize, q.Overwrite);
        return Queue("ExportCube", spec, spec.CubePath!);
    });

    private JobTicket Queue(string method, FilterJobSpec spec, string output)
    {
        var ticket = _jobs.Start(output, ctx => _runner.RunAsync(ctx, spec));
        _log.Info("job_queued", ("job", ticket.JobId), ("method", method), ("filter", spec.Filter.Description.Id), ("input", spec.InputPath), ("output", output));
        return ticket;
    }

    public async Task<JobResult> WaitAsync(string jobId, int timeoutMs, CancellationToken cancellationToken = default)
    {
        Touch();
        return await _jobs.WaitAsync(jobId, timeoutMs, cancellationToken).ConfigureAwait(false);
    }

    public Task<bool> CancelAsync(string jobId, CancellationToken cancellationToken = default) => Guard("Cancel", () =>
    {
        bool active = _jobs.Cancel(jobId);
        _log.Info("job_cancel_requested", ("job", jobId), ("was_active", active));
        return active;
    });

    public Task<JobStatus> GetJobAsync(string jobId, CancellationToken cancellationToken = default) => Guard("GetJob", () => _jobs.Get(jobId));

    /// <summary>Runs a request; expected failures become BridgeExceptions (logged), anything else Internal. Never throws anything else.</summary>
    private Task<T> Guard<T>(string method, Func<T> call)
    {
        Touch();
        try { return Task.FromResult(call()); }
        catch (Exception e)
        {
            var b = EngineErrors.ToBridge(e);
            if (method != "GetJob") _log.Warn("request_rejected", ("method", method), ("code", b.Code.ToString()), ("error", b.Message));
            return Task.FromException<T>(b);
        }
    }

    private void Touch() => Activity?.Invoke();

    /// <summary>Cancels queued and running jobs; an engine this service loaded (<see cref="Open"/>) is freed
    /// once no job uses it any more (within 30 s; a stuck job keeps it: the process is ending anyway).</summary>
    public void Dispose()
    {
        _jobs.Dispose();
        if (!_load.IsCompleted)
        {
            _loadCancel.Cancel();
            StartLoading(); // a load never started ends at once, cancelled
            try { _load.Wait(TimeSpan.FromSeconds(30)); } catch (AggregateException) { }
        }
        var engine = _load.IsCompletedSuccessfully ? _load.Result.Engine : null;
        if (!_ownsEngine || engine is null) return;
        var drain = System.Diagnostics.Stopwatch.StartNew();
        while (ActiveJobs > 0 && drain.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(50);
        if (ActiveJobs == 0) engine.Dispose();
        else _log.Warn("jobs_not_stopped", ("count", ActiveJobs));
        _ownsEngine = false;
    }
}

/// <summary>The outcome of loading the model pack: the engine, or why there is none.</summary>
public readonly record struct EngineLoad(BalanceEngine? Engine, Exception? Error);
