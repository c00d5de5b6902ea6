namespace LatentBalance.Bridge.Contract;

/// <summary>
/// The one contract between the engine daemon and its clients, served unchanged over D-Bus
/// (<see cref="EngineBusNames"/>, see DBus/org.latentbalance.Engine1.xml) and over newline-delimited JSON-RPC 2.0 on stdio.
/// Pixels never travel: requests name files by absolute path. Every failure is a <see cref="BridgeException"/>.
/// Jobs (Balance, ExportCube) return at once with a ticket; progress and completion arrive as events, or use Wait/GetJob.
/// </summary>
public interface IEngineService
{
    Task<EngineInfo> GetInfoAsync(CancellationToken cancellationToken = default);

    Task<IReadOnlyList<FilterDescriptor>> ListFiltersAsync(CancellationToken cancellationToken = default);

    /// <summary>Validates the request (InvalidArgument / NotFound) and queues the job.</summary>
    Task<JobTicket> BalanceAsync(BalanceRequest request, CancellationToken cancellationToken = default);

    /// <summary>Queues a LUT export job; its <see cref="JobResult.OutputPath"/> is the .cube path.</summary>
    Task<JobTicket> ExportCubeAsync(ExportCubeRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Waits until the job is done/failed/cancelled and returns its result. timeoutMs &lt; 0 waits forever;
    /// when the time runs out first, throws <see cref="BridgeErrorCode.Timeout"/> (the job keeps running). Unknown id: NotFound.
    /// </summary>
    Task<JobResult> WaitAsync(string jobId, int timeoutMs, CancellationToken cancellationToken = default);

    /// <summary>Requests cancellation. True if the job was queued/running, false if it had already finished. Unknown id: NotFound.</summary>
    Task<bool> CancelAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>Current status of a job. Unknown (or expired) id: NotFound.</summary>
    Task<JobStatus> GetJobAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>Progress of any job, 0..1, with a stage name.</summary>
    event EventHandler<JobProgressEventArgs>? JobProgress;

    /// <summary>Raised once per job when it reaches a terminal state.</summary>
    event EventHandler<JobCompletedEventArgs>? JobCompleted;
}
