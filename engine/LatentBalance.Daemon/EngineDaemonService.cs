using System.Globalization;
using System.Reflection;
using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.Jobs;
using LatentBalance.Daemon.Filters;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Filters;

namespace LatentBalance.Daemon;

/// <summary>
/// The engine contract served by the daemon: requests are checked at once (an error reply for bad
/// arguments, missing or unreadable files, non-images, bad output paths), then queued as jobs on a
/// <see cref="JobRegistry"/> (several at a time: image reading and writing overlap; the engine runs one
/// inference at a time). Every job and failure is logged as a JSON line.
/// </summary>
public sealed class EngineDaemonService : IEngineService, IDisposable
{
    private readonly BalanceEngine? _engine;
    private readonly Exception? _engineError;
    private readonly FilterCatalog _catalog;
    private readonly DaemonOptions _options;
    private readonly DaemonLog _log;
    private readonly JobRegistry _jobs;
    private readonly FilterJobRunner _runner;

    /// <param name="engine">the warm engine, or null when loading failed (<paramref name="engineError"/>): latent-balance jobs then fail with Unavailable, other filters still work.</param>
    public EngineDaemonService(BalanceEngine? engine, Exception? engineError, FilterCatalog catalog, DaemonOptions options, DaemonLog log)
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
        typeof(EngineDaemonService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public Task<EngineInfo> GetInfoAsync(CancellationToken cancellationToken = default)
    {
        Touch();
        var details = new Dictionary<string, string>
        {
            ["active_jobs"] = _jobs.ActiveCount.ToString(CultureInfo.InvariantCulture),
            ["max_concurrent_jobs"] = _options.MaxConcurrentJobs.ToString(CultureInfo.InvariantCulture),
            ["job_timeout_s"] = _options.JobTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture),
            ["pid"] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
            ["torch"] = TorchSharp.torch.__version__,
        };
        if (_engine != null) details["pack"] = _engine.PackName;
        if (_engineError != null) details["engine_error"] = _engineError.Message;
        return Task.FromResult(new EngineInfo
        {
            Version = Version,
            Device = _engine?.Device.ToString() ?? "none",
            ModelsLoaded = _engine is null ? [] : [_engine.Vae.Name, $"balancer ({_engine.PackName})"],
            Filters = _catalog.Filters.Select(f => f.Description.Id).ToArray(),
            Details = details,
        });
    }

    public Task<IReadOnlyList<FilterDescriptor>> ListFiltersAsync(CancellationToken cancellationToken = default)
    {
        Touch();
        return Task.FromResult<IReadOnlyList<FilterDescriptor>>(_catalog.Filters.Select(f => FilterContract.ToDescriptor(f.Description)).ToArray());
    }

    public Task<JobTicket> BalanceAsync(BalanceRequest request, CancellationToken cancellationToken = default) => Guard("Balance", () =>
    {
        var q = RequestRules.Validate(request);
        var filter = _catalog.Get(q.FilterId);
        var parameters = FilterContract.Bind(filter.Description, q.Parameters);
        RequestChecks.Input(q.InputPath);
        RequestChecks.Output(q.OutputPath, q.InputPath, q.Overwrite, "outputPath", image: true);
        if (q.LutPath != null)
        {
            RequestChecks.Output(q.LutPath, q.InputPath, q.Overwrite, "lutPath", image: false);
            if (q.LutPath == q.OutputPath) throw new BridgeException(BridgeErrorCode.InvalidArgument, "lutPath must differ from outputPath");
        }
        var spec = new FilterJobSpec
        {
            Filter = filter, InputPath = q.InputPath, OutputPath = q.OutputPath, CubePath = q.LutPath, Overwrite = q.Overwrite, Parameters = parameters,
        };
        var ticket = _jobs.Start(q.OutputPath, ctx => _runner.RunAsync(ctx, spec));
        _log.Info("job_queued", ("job", ticket.JobId), ("method", "Balance"), ("filter", filter.Description.Id), ("input", q.InputPath), ("output", q.OutputPath));
        return ticket;
    });

    public Task<JobTicket> ExportCubeAsync(ExportCubeRequest request, CancellationToken cancellationToken = default) => Guard("ExportCube", () =>
    {
        var q = RequestRules.Validate(request);
        var filter = _catalog.Get(q.FilterId);
        var parameters = FilterContract.Bind(filter.Description, q.Parameters);
        RequestChecks.Input(q.InputPath);
        RequestChecks.Output(q.CubePath, q.InputPath, q.Overwrite, "cubePath", image: false);
        var spec = new FilterJobSpec
        {
            Filter = filter, InputPath = q.InputPath, CubePath = q.CubePath, LutSize = q.LutSize, Overwrite = q.Overwrite, Parameters = parameters,
        };
        var ticket = _jobs.Start(q.CubePath, ctx => _runner.RunAsync(ctx, spec));
        _log.Info("job_queued", ("job", ticket.JobId), ("method", "ExportCube"), ("filter", filter.Description.Id), ("input", q.InputPath), ("output", q.CubePath));
        return ticket;
    });

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

    public void Dispose() => _jobs.Dispose();
}
