using System.Collections.Concurrent;
using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.Jobs;

namespace LatentBalance.Bridge.Tests.Jobs;

public sealed class JobRegistryTests
{
    [Fact]
    public async Task Jobs_beyond_the_concurrency_limit_stay_queued_until_a_slot_frees()
    {
        using var jobs = new JobRegistry(maxConcurrency: 1);
        var gate = new TaskCompletionSource();
        var first = jobs.Start("/a", _ => gate.Task);
        var second = jobs.Start("/b", _ => Task.CompletedTask);
        await WaitFor(() => jobs.Get(first.JobId).State == JobState.Running);
        await Task.Delay(50);
        Assert.Equal(JobState.Queued, jobs.Get(second.JobId).State);
        gate.SetResult();
        Assert.Equal(JobState.Done, (await jobs.WaitAsync(second.JobId, 5000)).State);
        Assert.Equal(JobState.Done, jobs.Get(first.JobId).State);
    }

    /// <summary>The stdio host once answered Wait before it had sent the job's JobCompleted notification (a script
    /// that waits and then looks for the notification missed it under load): the event now comes first.</summary>
    [Fact]
    public async Task JobCompleted_is_raised_before_Wait_returns_the_result()
    {
        using var jobs = new JobRegistry();
        bool raised = false;
        jobs.JobCompleted += (_, _) => { Thread.Sleep(200); raised = true; }; // a slow listener (a notification written under load)
        // the job ends on a thread of its own (not a pool thread, whose local queue would hold Wait's continuation back
        // until the listener returns), so Wait's continuation is free to run at once on the pool
        var ticket = jobs.Start("/a", _ =>
        {
            var end = new TaskCompletionSource();
            new Thread(() => { Thread.Sleep(50); end.SetResult(); }).Start();
            return end.Task;
        });
        var result = await jobs.WaitAsync(ticket.JobId, 5000);
        Assert.Equal(JobState.Done, result.State);
        Assert.True(raised, "Wait returned before JobCompleted was raised");
    }

    [Fact]
    public async Task Queued_jobs_start_in_submission_order()
    {
        using var jobs = new JobRegistry(maxConcurrency: 1);
        var order = new ConcurrentQueue<int>();
        var tickets = Enumerable.Range(0, 20).Select(i => jobs.Start($"/{i}", async _ => { order.Enqueue(i); await Task.Yield(); })).ToList();
        foreach (var t in tickets) await jobs.WaitAsync(t.JobId, 5000);
        Assert.Equal(Enumerable.Range(0, 20), order);
    }

    [Fact]
    public async Task Cancelling_a_queued_job_never_runs_it()
    {
        using var jobs = new JobRegistry(maxConcurrency: 1);
        var gate = new TaskCompletionSource();
        jobs.Start("/a", _ => gate.Task);
        bool ran = false;
        var queued = jobs.Start("/b", _ => { ran = true; return Task.CompletedTask; });
        Assert.True(jobs.Cancel(queued.JobId));
        var result = await jobs.WaitAsync(queued.JobId, 5000);
        gate.SetResult();
        Assert.Equal(JobState.Cancelled, result.State);
        Assert.False(ran);
    }

    [Theory]
    [InlineData(typeof(IOException), BridgeErrorCode.IoError)]
    [InlineData(typeof(FileNotFoundException), BridgeErrorCode.NotFound)]
    [InlineData(typeof(ArgumentException), BridgeErrorCode.InvalidArgument)]
    [InlineData(typeof(InvalidOperationException), BridgeErrorCode.Internal)]
    public async Task Failures_become_Failed_results_with_a_mapped_code(Type exceptionType, BridgeErrorCode code)
    {
        using var jobs = new JobRegistry();
        var t = jobs.Start("/x", _ => throw (Exception)Activator.CreateInstance(exceptionType, "it broke")!);
        var r = await jobs.WaitAsync(t.JobId, 5000);
        Assert.Equal(JobState.Failed, r.State);
        Assert.Equal(code, r.ErrorCode);
        Assert.Contains("it broke", r.Error);
    }

    [Fact]
    public async Task Wait_zero_polls_and_progress_is_clamped_and_completion_raised_once()
    {
        using var jobs = new JobRegistry();
        var completed = new ConcurrentQueue<JobCompletedEventArgs>();
        var progress = new ConcurrentQueue<JobProgressEventArgs>();
        jobs.JobCompleted += (_, e) => completed.Enqueue(e);
        jobs.JobProgress += (_, e) => progress.Enqueue(e);
        jobs.JobProgress += (_, _) => throw new InvalidOperationException("a bad subscriber must not break the job");
        var gate = new TaskCompletionSource();
        var t = jobs.Start("/x", async ctx => { ctx.Report(7, "too far"); ctx.Report(double.NaN, "nan"); await gate.Task; });
        await WaitFor(() => progress.Count == 2);
        var ex = await Assert.ThrowsAsync<BridgeException>(() => jobs.WaitAsync(t.JobId, 0));
        Assert.Equal(BridgeErrorCode.Timeout, ex.Code);
        gate.SetResult();
        Assert.Equal(JobState.Done, (await jobs.WaitAsync(t.JobId, 5000)).State);
        Assert.Equal([1.0, 0.0], progress.Select(p => p.Progress));
        await WaitFor(() => completed.Count == 1);
        Assert.Single(completed);
        Assert.Equal(JobState.Done, (await jobs.WaitAsync(t.JobId, 0)).State); // terminal: Wait(0) answers
    }

    [Fact]
    public async Task Oldest_finished_jobs_are_forgotten_beyond_the_retention_limit()
    {
        using var jobs = new JobRegistry(maxConcurrency: 2, maxFinishedKept: 3);
        var ids = new List<string>();
        for (int i = 0; i < 5; i++)
        {
            var t = jobs.Start($"/{i}", _ => Task.CompletedTask);
            await jobs.WaitAsync(t.JobId, 5000);
            ids.Add(t.JobId);
        }
        Assert.Equal(BridgeErrorCode.NotFound, Assert.Throws<BridgeException>(() => jobs.Get(ids[0])).Code);
        Assert.Equal(BridgeErrorCode.NotFound, Assert.Throws<BridgeException>(() => jobs.Get(ids[1])).Code);
        Assert.Equal(JobState.Done, jobs.Get(ids[4]).State);
    }

    [Fact]
    public async Task Dispose_cancels_running_jobs()
    {
        var jobs = new JobRegistry();
        var t = jobs.Start("/x", ctx => Task.Delay(Timeout.Infinite, ctx.Cancellation));
        await WaitFor(() => jobs.Get(t.JobId).State == JobState.Running);
        var wait = jobs.WaitAsync(t.JobId, 5000);
        jobs.Dispose();
        var r = await wait;
        Assert.Equal(JobState.Cancelled, r.State);
        Assert.Contains("shut down", r.Error);
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met within 10 s");
            await Task.Delay(5);
        }
    }
}
