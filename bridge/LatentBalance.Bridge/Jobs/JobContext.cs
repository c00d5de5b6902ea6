using LatentBalance.Bridge.Contract;

namespace LatentBalance.Bridge.Jobs;

/// <summary>Handed to a job's work function: its id, its cancellation, and a way to report progress.</summary>
public sealed class JobContext
{
    private readonly Action<double, string> _report;

    internal JobContext(string jobId, CancellationToken cancellation, Action<double, string> report)
    {
        JobId = jobId;
        Cancellation = cancellation;
        _report = report;
    }

    public string JobId { get; }
    public CancellationToken Cancellation { get; }

    /// <summary>What the job reports about its result (<see cref="JobResult.Details"/>); set before it returns.</summary>
    public IDictionary<string, string> Details { get; } = new Dictionary<string, string>();

    /// <summary>Reports progress (clamped to 0..1) and the current stage; raises JobProgress.</summary>
    public void Report(double progress, string stage) => _report(progress, stage);

    /// <summary>Throws <see cref="BridgeErrorCode.Cancelled"/> when cancellation was requested.</summary>
    public void ThrowIfCancelled()
    {
        if (Cancellation.IsCancellationRequested)
            throw new BridgeException(BridgeErrorCode.Cancelled, $"job {JobId} was cancelled");
    }
}
