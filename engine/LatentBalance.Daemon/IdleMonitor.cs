namespace LatentBalance.Daemon;

/// <summary>Completes <see cref="Idle"/> once nothing happened for a while and no job is active.</summary>
public sealed class IdleMonitor : IDisposable
{
    private readonly TimeSpan _limit;
    private readonly Func<bool> _busy;
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Timer _timer;
    private long _lastTicks = Environment.TickCount64;

    /// <param name="limit">idle time before <see cref="Idle"/> completes.</param>
    /// <param name="busy">true while jobs are queued or running (never idle then).</param>
    public IdleMonitor(TimeSpan limit, Func<bool> busy)
    {
        if (limit <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(limit), limit, "must be positive");
        _limit = limit;
        _busy = busy;
        var period = TimeSpan.FromMilliseconds(Math.Clamp(limit.TotalMilliseconds / 4, 50, 1000));
        _timer = new Timer(_ => Check(), null, period, period);
    }

    public Task Idle => _idle.Task;

    /// <summary>Records activity (a call, a job event).</summary>
    public void Touch() => Interlocked.Exchange(ref _lastTicks, Environment.TickCount64);

    private void Check()
    {
        if (_busy()) { Touch(); return; }
        if (Environment.TickCount64 - Interlocked.Read(ref _lastTicks) >= _limit.TotalMilliseconds) _idle.TrySetResult();
    }

    public void Dispose() => _timer.Dispose();
}
