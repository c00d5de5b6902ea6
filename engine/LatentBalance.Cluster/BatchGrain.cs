using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace LatentBalance.Cluster;

[GenerateSerializer]
public sealed class BatchGrainState
{
    [Id(0)] public BatchSpec? Spec { get; set; }
    [Id(1)] public PhotoOutcome[] Outcomes { get; set; } = [];
    [Id(2)] public BatchPhase Phase { get; set; }
    [Id(3)] public DateTime SubmittedUtc { get; set; }
    [Id(4)] public DateTime? EndedUtc { get; set; }
    [Id(5)] public string? StopReason { get; set; }
}

/// <summary>
/// A batch, durable in Redis: the photo list, every photo's outcome and the phase. While it runs it keeps
/// a window of photo grains busy (every active silo's job slots, plus one queued per silo) and records
/// each outcome; the state is written at most once a second and when the batch ends. If its silo dies, a
/// reminder (or the next client call) activates it elsewhere, and it asks every photo not recorded
/// done: photos already done answer from their own stored outcome, the rest run.
/// </summary>
public sealed class BatchGrain(
    [PersistentState("batch", ClusterNames.Storage)] IPersistentState<BatchGrainState> state,
    SiloEngine engine,
    ILogger<BatchGrain> log) : Grain, IBatchGrain, IRemindable
{
    const string Reminder = "drive";
    /// <summary>A photo whose silo was lost this many times fails (it may be what kills them).</summary>
    const int MaxSiloLosses = 3;

    bool _driving;
    int _inFlight;
    readonly Stopwatch _sinceWrite = Stopwatch.StartNew();
    readonly SemaphoreSlim _writing = new(1, 1);

    string Id => this.GetPrimaryKeyString();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State.Phase == BatchPhase.Running) StartDriving();
        return Task.CompletedTask;
    }

    public async Task<BatchStatus> Submit(BatchSpec spec)
    {
        if (state.RecordExists || state.State.Spec != null)
            throw new InvalidOperationException($"batch ID '{Id}' is already in use (see `latentbalance cluster status {Id}`)");
        if (spec.Photos.Count == 0) throw new ArgumentException("the batch has no photos");
        state.State = new BatchGrainState
        {
            Spec = spec, Outcomes = spec.Photos.Select(_ => new PhotoOutcome()).ToArray(), Phase = BatchPhase.Running, SubmittedUtc = DateTime.UtcNow,
        };
        await state.WriteStateAsync();
        await this.RegisterOrUpdateReminder(Reminder, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        log.LogInformation("batch {Batch} submitted: {Count} photos", Id, spec.Photos.Count);
        StartDriving();
        return Status();
    }

    public Task<BatchStatus> GetStatus()
    {
        if (state.State.Spec is null) DeactivateOnIdle(); // unknown ID: nothing to keep
        else if (state.State.Phase == BatchPhase.Running) StartDriving();
        return Task.FromResult(Status());
    }

    public async Task<BatchStatus> Cancel()
    {
        if (state.State.Spec is null) return Status();
        if (state.State.Phase == BatchPhase.Running) await End(BatchPhase.Cancelled, "cancelled by a client");
        return Status();
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (state.State.Phase == BatchPhase.Running) { StartDriving(); return; }
        if (await this.GetReminder(reminderName) is { } r) await this.UnregisterReminder(r);
    }

    void StartDriving()
    {
        if (_driving) return;
        _driving = true;
        _ = DriveAsync(); // runs on this activation's scheduler, between its calls
    }

    async Task DriveAsync()
    {
        try
        {
            var spec = state.State.Spec!;
            var outcomes = state.State.Outcomes;
            var pending = new Queue<int>(Enumerable.Range(0, outcomes.Length).Where(i => outcomes[i].State == PhotoState.Pending));
            var losses = new Dictionary<int, int>();
            var running = new Dictionary<Task<PhotoOutcome>, int>();
            var window = new SiloWindow(GrainFactory, engine.Jobs);
            bool dirty = false;
            while (state.State.Phase == BatchPhase.Running && (pending.Count > 0 || running.Count > 0))
            {
                int size = await window.SizeAsync();
                while (state.State.Phase == BatchPhase.Running && pending.Count > 0 && running.Count < size)
                {
                    int i = pending.Dequeue();
                    running[GrainFactory.GetGrain<IPhotoGrain>($"{Id}/{i}").Run(spec.Photos[i], spec.Parameters)] = i;
                }
                _inFlight = running.Count;
                if (running.Count == 0) break;
                var done = await Task.WhenAny(running.Keys);
                int index = running[done];
                running.Remove(done);
                _inFlight = running.Count;
                DelayDeactivation(TimeSpan.FromMinutes(5));
                try
                {
                    var outcome = await done;
                    outcomes[index] = outcome;
                    dirty = true;
                    if (outcome.DiskFull && state.State.Phase == BatchPhase.Running)
                        await End(BatchPhase.Stopped, $"disk full: {outcome.Error}; {pending.Count + running.Count} photos not started or still running were left (free space under {spec.Dest} and submit the rest again)");
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // the photo's silo died (or the call was lost): ask again; Orleans activates it elsewhere
                    int n = losses[index] = losses.GetValueOrDefault(index) + 1;
                    log.LogWarning("batch {Batch} photo {Index}: {Error} (attempt {N})", Id, index, e.Message, n);
                    if (n >= MaxSiloLosses)
                    {
                        outcomes[index] = new PhotoOutcome { State = PhotoState.Failed, Error = $"{spec.Photos[index].Input}: its silo was lost {n} times ({e.GetType().Name}: {e.Message})", Code = "Unavailable" };
                        dirty = true;
                    }
                    else
                    {
                        await Task.Delay(TimeSpan.FromSeconds(1));
                        pending.Enqueue(index);
                    }
                }
                if (dirty && _sinceWrite.Elapsed > TimeSpan.FromSeconds(1)) { await Write(); dirty = false; }
            }
            // a cancelled or stopped batch still waits for (and records) the photos already running
            foreach (var (task, index) in running)
            {
                try { outcomes[index] = await task; } catch (Exception e) when (e is not OutOfMemoryException) { }
            }
            _inFlight = 0;
            if (state.State.Phase == BatchPhase.Running) await End(BatchPhase.Finished, null);
            else await Write();
        }
        catch (Exception e)
        {
            log.LogError(e, "batch {Batch}: the driver stopped; the reminder restarts it", Id);
        }
        finally { _driving = false; }
    }

    async Task End(BatchPhase phase, string? reason)
    {
        state.State.Phase = phase;
        state.State.StopReason = reason;
        state.State.EndedUtc = DateTime.UtcNow;
        await Write();
        if (await this.GetReminder(Reminder) is { } r) await this.UnregisterReminder(r);
        log.LogInformation("batch {Batch} {Phase}{Reason}", Id, phase, reason is null ? "" : ": " + reason);
    }

    /// <summary>One write at a time (the driver and a Cancel call interleave on this activation).</summary>
    async Task Write()
    {
        await _writing.WaitAsync();
        try { await state.WriteStateAsync(); _sinceWrite.Restart(); }
        finally { _writing.Release(); }
    }

    BatchStatus Status()
    {
        var s = state.State;
        if (s.Spec is null) return new BatchStatus { Id = Id, Phase = BatchPhase.Unknown };
        var failures = new List<FailedPhoto>();
        var perSilo = new Dictionary<string, int>();
        int done = 0, rerun = 0;
        for (int i = 0; i < s.Outcomes.Length; i++)
        {
            var o = s.Outcomes[i];
            if (o.Runs > 1) rerun++;
            if (o.State == PhotoState.Done)
            {
                done++;
                if (o.Silo != null) perSilo[o.Silo] = perSilo.GetValueOrDefault(o.Silo) + 1;
            }
            else if (o.State == PhotoState.Failed) failures.Add(new FailedPhoto(s.Spec.Photos[i].Input, o.Error ?? "failed", o.Code));
        }
        return new BatchStatus
        {
            Id = Id, Phase = s.Phase, Total = s.Outcomes.Length, Done = done, Failed = failures.Count, InFlight = _inFlight,
            SubmittedUtc = s.SubmittedUtc, EndedUtc = s.EndedUtc, StopReason = s.StopReason, Failures = failures,
            Source = s.Spec.Source, Dest = s.Spec.Dest, PerSilo = perSilo, Rerun = rerun,
        };
    }
}
