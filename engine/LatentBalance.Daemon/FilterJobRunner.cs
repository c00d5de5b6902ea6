using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.Jobs;
using LatentBalance.Engine.Imaging;
using LatentBalance.Filters;

namespace LatentBalance.Daemon;

/// <summary>
/// Runs one filter job inside the <see cref="JobRegistry"/>: outputs staged (<see cref="StagedOutputs"/>, the
/// one staging) and committed only on success,
/// progress forwarded, engine errors mapped to bridge codes, and a time limit: a job that is still running
/// after <see cref="DaemonOptions.JobTimeout"/> is cancelled, given a short grace, then abandoned as Timeout.
/// </summary>
public sealed class FilterJobRunner
{
    private readonly Func<IFilter, IFilterHost> _hostFor;
    private readonly TimeSpan _timeout;
    private readonly TimeSpan _grace;
    private readonly DaemonLog _log;

    public FilterJobRunner(Func<IFilter, IFilterHost> hostFor, TimeSpan timeout, DaemonLog log, TimeSpan? grace = null)
    {
        _hostFor = hostFor;
        _timeout = timeout;
        _log = log;
        _grace = grace ?? TimeSpan.FromSeconds(10);
    }

    public async Task RunAsync(JobContext ctx, FilterJobSpec spec)
    {
        var staging = new StagedOutputs(spec.Overwrite);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ctx.Cancellation);
        var job = new FilterJob
        {
            InputPath = spec.InputPath,
            OutputPath = staging.Stage(spec.OutputPath),
            CubePath = staging.Stage(spec.CubePath),
            LutSize = spec.LutSize,
            Parameters = spec.Parameters,
            Details = ctx.Details,
            Progress = new ContextProgress(ctx),
            Cancellation = cts.Token,
        };
        var host = _hostFor(spec.Filter);
        ctx.Report(0, "started");
        var work = Task.Run(() => spec.Filter.RunAsync(job, host));
        bool abandoned = false;
        try
        {
            await work.WaitAsync(_timeout, ctx.Cancellation).ConfigureAwait(false);
            ctx.ThrowIfCancelled();
            staging.Commit();
        }
        catch (TimeoutException) when (!work.IsCompleted)
        {
            cts.Cancel();
            abandoned = !await Finishes(work).ConfigureAwait(false);
            _log.Warn("job_timeout", ("job", ctx.JobId), ("seconds", _timeout.TotalSeconds), ("abandoned", abandoned));
            throw new BridgeException(BridgeErrorCode.Timeout,
                $"the job on '{spec.InputPath}' ran longer than {_timeout.TotalSeconds:0.#} s and was stopped");
        }
        catch (OperationCanceledException) when (ctx.Cancellation.IsCancellationRequested)
        {
            // wait for the filter to stop so that nothing is written after the job says it was cancelled
            cts.Cancel();
            abandoned = !await Finishes(work).ConfigureAwait(false);
            throw;
        }
        catch (Exception e) when (e is not BridgeException { Code: BridgeErrorCode.Cancelled })
        {
            var b = EngineErrors.ToBridge(e);
            throw new BridgeException(b.Code, staging.Explain(b.Message), e);
        }
        finally
        {
            staging.Discard();
            if (abandoned) _ = work.ContinueWith(_ => staging.Discard(), TaskScheduler.Default);
        }
    }

    private async Task<bool> Finishes(Task work)
    {
        try { await work.WaitAsync(_grace).ConfigureAwait(false); }
        catch (TimeoutException) { return false; }
        catch { } // its own failure after cancellation does not matter
        return true;
    }

    private sealed class ContextProgress(JobContext ctx) : IProgress<FilterProgress>
    {
        public void Report(FilterProgress value) => ctx.Report(value.Fraction, value.Stage);
    }
}
