using System.Collections.Concurrent;
using System.Diagnostics;
using LatentBalance.Bridge.Contract;

namespace LatentBalance.Bridge.Jobs;

/// <summary>
/// Job bookkeeping for an <see cref="IEngineService"/> implementation: ids, queueing with a concurrency limit,
/// progress/completion events, Wait with timeout, Cancel, GetJob, and bounded retention of finished jobs.
/// The work function returns normally for Done; throws BridgeException/other for Failed; cancellation
/// (OperationCanceledException or BridgeException Cancelled after Cancel) gives Cancelled.
/// </summary>
public sealed class JobRegistry : IDisposable
{
    private readonly ConcurrentDictionary<string, Job> _jobs = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _finishedOrder = new();
    private readonly Queue<(Job Job, Func<JobContext, Task> Work)> _queue = new();
    private readonly object _queueGate = new();
    private readonly int _maxConcurrency;
    private int _running;
    private readonly int _maxFinishedKept;
    private readonly CancellationTokenSource _shutdown = new();
    private long _counter;

    /// <param name="maxConcurrency">Jobs that run at once; the rest stay Queued.</param>
    /// <param name="maxFinishedKept">Finished jobs remembered for GetJob/Wait before the oldest are forgotten.</param>
    public JobRegistry(int maxConcurrency = 1, int maxFinishedKept = 1000)
    {
        if (maxConcurrency < 1) throw new ArgumentOutOfRangeException(nameof(maxConcurrency), maxConcurrency, "must be >= 1");
        if (maxFinishedKept < 1) throw new ArgumentOutOfRangeException(nameof(maxFinishedKept), maxFinishedKept, "must be >= 1");
        _maxConcurrency = maxConcurrency;
        _maxFinishedKept = maxFinishedKept;
    }

    public event EventHandler<JobProgressEventArgs>? JobProgress;
    public event EventHandler<JobCompletedEventArgs>? JobCompleted;

    /// <summary>Number of jobs queued or running.</summary>
    public int ActiveCount => _jobs.Values.Count(j => !j.State.IsTerminal());

    /// <summary>
    /// Queues <paramref name="work"/>; jobs start in submission order (FIFO) as slots free up.
    /// <paramref name="outputPath"/> is reported in status/results.
    /// </summary>
    public JobTicket Start(string outputPath, Func<JobContext, Task> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        ObjectDisposedException.ThrowIf(_shutdown.IsCancellationRequested, this);
        string id = $"job-{Interlocked.Increment(ref _counter)}-{Guid.NewGuid().ToString("N")[..8]}";
        var job = new Job(id, outputPath, CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token));
        _jobs[id] = job;
        lock (_queueGate) _queue.Enqueue((job, work));
        Pump();
        return new JobTicket { JobId = id };
    }

    public JobStatus Get(string jobId) => Find(jobId).Snapshot();

    public bool Cancel(string jobId)
    {
        var job = Find(jobId);
        bool wasQueued;
        lock (job)
        {
            if (job.State.IsTerminal() || job.CancelRequested) return !job.State.IsTerminal();
            job.CancelRequested = true;
            wasQueued = job.State == JobState.Queued && !job.Started;
        }
        if (wasQueued)
        {
            // Not started: finish it now (Pump skips it later) so Wait does not wait for a free slot.
            Finish(job, JobState.Cancelled, BridgeErrorCode.Cancelled, "cancelled by request", 0);
            return true;
        }
        try { job.Cts.Cancel(); } catch (ObjectDisposedException) { }
        return true;
    }

    /// <summary>Starts queued jobs while slots are free, oldest first.</summary>
    private void Pump()
    {
        while (true)
        {
            (Job Job, Func<JobContext, Task> Work) next;
            lock (_queueGate)
            {
                if (_running >= _maxConcurrency || !_queue.TryDequeue(out next)) return;
                lock (next.Job)
                {
                    if (next.Job.State.IsTerminal()) continue; // cancelled while queued
                    next.Job.Started = true;
                }
                _running++;
            }
            _ = Task.Run(() => RunAsync(next.Job, next.Work));
        }
    }

    public async Task<JobResult> WaitAsync(string jobId, int timeoutMs, CancellationToken cancellationToken = default)
    {
        var job = Find(jobId);
        var done = job.Completion.Task;
        if (!done.IsCompleted)
        {
            if (timeoutMs == 0)
                throw new BridgeException(BridgeErrorCode.Timeout, $"job {jobId} is still {WireNames.ToWire(job.State)}");
            try
            {
                await done.WaitAsync(timeoutMs < 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(timeoutMs), cancellationToken)
                          .ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new BridgeException(BridgeErrorCode.Timeout, $"job {jobId} did not finish within {timeoutMs} ms (still {WireNames.ToWire(job.State)})");
            }
        }
        return await done.ConfigureAwait(false);
    }

    private Job Find(string jobId)
    {
        RequestRules.ValidateJobId(jobId);
        return _jobs.TryGetValue(jobId, out var job)
            ? job
            : throw new BridgeException(BridgeErrorCode.NotFound, $"no job with id '{jobId}'");
    }

    private async Task RunAsync(Job job, Func<JobContext, Task> work)
    {
        var ct = job.Cts.Token;
        var clock = new Stopwatch();
        try
        {
            ct.ThrowIfCancellationRequested();
            clock.Start();
            lock (job) job.State = JobState.Running;
            var ctx = new JobContext(job.Id, ct, (p, stage) => ReportProgress(job, p, stage));
            await work(ctx).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
            Finish(job, JobState.Done, null, null, clock.ElapsedMilliseconds, new Dictionary<string, string>(ctx.Details));
        }
        catch (Exception ex) when (job.CancelRequested || (ex is OperationCanceledException && ct.IsCancellationRequested))
        {
            Finish(job, JobState.Cancelled, BridgeErrorCode.Cancelled,
                _shutdown.IsCancellationRequested ? "engine shut down" : "cancelled by request", clock.ElapsedMilliseconds);
        }
        catch (Exception ex)
        {
            var b = BridgeException.From(ex);
            Finish(job, JobState.Failed, b.Code, b.Message, clock.ElapsedMilliseconds);
        }
        finally
        {
            lock (_queueGate) _running--;
            Pump();
        }
    }

    private void ReportProgress(Job job, double progress, string stage)
    {
        progress = double.IsFinite(progress) ? Math.Clamp(progress, 0, 1) : 0;
        lock (job)
        {
            if (job.State.IsTerminal()) return;
            job.Progress = progress;
            job.Stage = stage ?? "";
        }
        Raise(JobProgress, new JobProgressEventArgs { JobId = job.Id, Progress = progress, Stage = stage ?? "" });
    }

    private void Finish(Job job, JobState state, BridgeErrorCode? code, string? error, long elapsedMs, IReadOnlyDictionary<string, string>? details = null)
    {
        lock (job)
        {
            if (job.State.IsTerminal()) return; // finished once already (e.g. cancelled while queued)
            job.State = state;
            if (state == JobState.Done) { job.Progress = 1; job.Stage = "done"; }
            job.ErrorCode = code;
            job.Error = error;
        }
        job.Cts.Dispose();
        var result = new JobResult
        {
            JobId = job.Id, State = state, OutputPath = job.OutputPath, ErrorCode = code, Error = error, ElapsedMs = elapsedMs,
            Details = details ?? new Dictionary<string, string>(),
        };
        // JobCompleted is raised before the result is released to Wait: a client that waits and also listens (the
        // stdio host's notification, the D-Bus signal) has had the completion sent to it before Wait's answer
        Raise(JobCompleted, new JobCompletedEventArgs
        {
            JobId = job.Id, State = state, OutputPath = job.OutputPath, ErrorCode = code, Error = error,
        });
        job.Completion.TrySetResult(result);
        Remember(job.Id);
    }

    private void Remember(string jobId)
    {
        _finishedOrder.Enqueue(jobId);
        while (_finishedOrder.Count > _maxFinishedKept && _finishedOrder.TryDequeue(out var old))
            _jobs.TryRemove(old, out _);
    }

    private void Raise<T>(EventHandler<T>? handler, T args)
    {
        if (handler is null) return;
        foreach (EventHandler<T> h in handler.GetInvocationList())
        {
            try { h(this, args); }
            catch (Exception ex) { Trace.TraceWarning($"JobRegistry: event handler failed: {ex.Message}"); }
        }
    }

    /// <summary>Cancels every queued or running job.</summary>
    public void Dispose()
    {
        if (_shutdown.IsCancellationRequested) return;
        _shutdown.Cancel();
        foreach (var job in _jobs.Values)
        {
            bool queued;
            lock (job)
            {
                if (job.State.IsTerminal()) continue;
                job.CancelRequested = true;
                queued = !job.Started;
            }
            if (queued) Finish(job, JobState.Cancelled, BridgeErrorCode.Cancelled, "engine shut down", 0);
        }
    }

    private sealed class Job(string id, string outputPath, CancellationTokenSource cts)
    {
        public string Id { get; } = id;
        public string OutputPath { get; } = outputPath;
        public CancellationTokenSource Cts { get; } = cts;
        public TaskCompletionSource<JobResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public JobState State { get; set; } = JobState.Queued;
        public double Progress { get; set; }
        public string Stage { get; set; } = "queued";
        public BridgeErrorCode? ErrorCode { get; set; }
        public string? Error { get; set; }
        public volatile bool CancelRequested;
        public bool Started;

        public JobStatus Snapshot()
        {
            lock (this)
                return new JobStatus
                {
                    JobId = Id, State = State, Progress = Progress, Stage = Stage, OutputPath = OutputPath,
                    ErrorCode = ErrorCode, Error = Error,
                };
        }
    }
}
