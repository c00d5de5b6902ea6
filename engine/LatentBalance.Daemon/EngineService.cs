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
    private readonly BalanceEngine? _engine;
    private readonly Exception? _engineError;
    private readonly FilterCatalog _catalog;
    private readonly DaemonOptions _options;
    private readonly DaemonLog _log;
    private readonly JobRegistry _jobs;
    private readonly FilterJobRunner _runner;

    /// <summary>Loads the model pack and the filters (built-in and plug-ins). A pack that does not load
    /// leaves the service up without the engine: latent-balance jobs then fail with Unavailable and say why.</summary>
    public static EngineService Open(DaemonOptions options, DaemonLog log, CancellationToken cancel = default)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        BalanceEngine? engine = null;
        Exception? engineError = null;
        try
        {
            engine = EngineRuntime.Load(options.Pack, options.Runtime, options.Device, cancel: cancel);
            log.Info("models_loaded", ("pack", engine.PackName), ("vae", engine.Networks.VaeName), ("runtime", engine.Networks.Runtime), ("device", engine.Networks.Device), ("ms", clock.Elapsed.TotalMilliseconds));
        }
        catch (OperationCanceledException) { throw; }
        catch (Exception e)
        {
            engineError = e;
            log.Error("models_failed", ("error", e.Message), ("type", e.GetType().Name));
        }
        var catalog = new FilterCatalog([new LatentBalanceFilter()]).LoadPlugins(FilterPluginFolders.Roots(options.FilterFolders), log);
        return new EngineService(engine, engineError, catalog, options, log) { _ownsEngine = true };
    }

    private bool _ownsEngine;

    /// <summary>The warm engine, or null when the pack did not load (<see cref="EngineError"/>).</summary>
    public BalanceEngine? Engine => _engine;
    public Exception? EngineError => _engineError;
    public IReadOnlyList<IFilter> Filters => _catalog.Filters;

    /// <param name="engine">the warm engine, or null when loading failed (<paramref name="engineError"/>): latent-balance jobs then fail with Unavailable, other filters still work.</param>
    public EngineService(BalanceEngine? engine, Exception? engineError, FilterCatalog catalog, DaemonOptions options, DaemonLog log)
    {
        _engine = engine;
        _engineError = engineError;
        _catalog = catalog;
        _options = options;
        _log = log;
        _jobs = new JobRegistry(options.MaxConcurrentJobs);
        _runner = new FilterJobRunner(f => new EngineFilterHost(engine, engineError, log, f.Description.Id), options.JobTimeout, log);
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

    public Task<EngineInfo> GetInfoAsync(CancellationToken cancellationToken = default)
    {
        Touch();
        var details = new Dictionary<string, string>
        {
            ["active_jobs"] = _jobs.ActiveCount.ToString(CultureInfo.InvariantCulture),
            ["max_concurrent_jobs"] = _options.MaxConcurrentJobs.ToString(CultureInfo.InvariantCulture),
            ["job_timeout_s"] = _options.JobTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture),
            ["pid"] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
        };
        if (_engine != null) { details["pack"] = _engine.PackName; details["runtime"] = _engine.Networks.Runtime; }
        // libtorch's version only where it is loaded anyway (a lean install has none; the onnx runtime never loads it)
        if (_engine?.Networks.Runtime == EngineRuntime.Torch) details["torch"] = TorchVersion();
        if (_engineError != null) details["engine_error"] = _engineError.Message;
        return Task.FromResult(new EngineInfo
        {
            Version = Version,
            Device = _engine?.Networks.Device ?? "none",
            ModelsLoaded = _engine is null ? [] : [_engine.Networks.VaeName, $"balancer ({_engine.PackName})"],
            Filters = _catalog.Filters.Select(f => f.Description.Id).ToArray(),
            Details = details,
        });
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
        if (!_ownsEngine || _engine is null) return;
        var drain = System.Diagnostics.Stopwatch.StartNew();
        while (ActiveJobs > 0 && drain.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(50);
        if (ActiveJobs == 0) _engine.Dispose();
        else _log.Warn("jobs_not_stopped", ("count", ActiveJobs));
        _ownsEngine = false;
    }
}
