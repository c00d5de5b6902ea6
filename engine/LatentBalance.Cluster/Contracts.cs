namespace LatentBalance.Cluster;

/// <summary>One photo of a batch: where it is read and where its balanced copy goes (absolute paths on
/// storage every silo sees under the same names).</summary>
[GenerateSerializer, Immutable]
public sealed record PhotoItem([property: Id(0)] string Input, [property: Id(1)] string Output);

/// <summary>What a client submits: the photos and the balance parameters, the same dictionary the CLI's
/// <c>balance</c> sends to the engine service.</summary>
[GenerateSerializer, Immutable]
public sealed record BatchSpec
{
    [Id(0)] public required string Source { get; init; }
    [Id(1)] public required string Dest { get; init; }
    [Id(2)] public required IReadOnlyList<PhotoItem> Photos { get; init; }
    [Id(3)] public required IReadOnlyDictionary<string, string> Parameters { get; init; }
}

public enum PhotoState { Pending, Done, Failed }

/// <summary>What happened to one photo. <see cref="DiskFull"/>: it failed because its output's file system
/// is full (the batch stops: every later photo would fail the same way).</summary>
[GenerateSerializer, Immutable]
public sealed record PhotoOutcome
{
    [Id(0)] public PhotoState State { get; init; }
    [Id(1)] public string? Error { get; init; }
    [Id(2)] public string? Code { get; init; }
    [Id(3)] public bool DiskFull { get; init; }
    [Id(4)] public string? Silo { get; init; }
    [Id(5)] public double ElapsedMs { get; init; }
    /// <summary>Engine runs started for this photo (more than one only after a silo died mid-photo).</summary>
    [Id(6)] public int Runs { get; init; }
}

public enum BatchPhase { Unknown, Running, Finished, Cancelled, Stopped }

[GenerateSerializer, Immutable]
public sealed record FailedPhoto([property: Id(0)] string Input, [property: Id(1)] string Error, [property: Id(2)] string? Code);

/// <summary>A batch as a client sees it (<c>cluster status</c>).</summary>
[GenerateSerializer, Immutable]
public sealed record BatchStatus
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public BatchPhase Phase { get; init; }
    [Id(2)] public int Total { get; init; }
    [Id(3)] public int Done { get; init; }
    [Id(4)] public int Failed { get; init; }
    [Id(5)] public int InFlight { get; init; }
    [Id(6)] public DateTime SubmittedUtc { get; init; }
    [Id(7)] public DateTime? EndedUtc { get; init; }
    [Id(8)] public string? StopReason { get; init; }
    [Id(9)] public IReadOnlyList<FailedPhoto> Failures { get; init; } = [];
    [Id(10)] public string? Source { get; init; }
    [Id(11)] public string? Dest { get; init; }
    /// <summary>Photos done per silo (silo address -> count).</summary>
    [Id(12)] public IReadOnlyDictionary<string, int> PerSilo { get; init; } = new Dictionary<string, int>();
    /// <summary>Photos whose engine ran more than once (a silo died while it ran); each still has one output.</summary>
    [Id(13)] public int Rerun { get; init; }

    public int Remaining => Total - Done - Failed;
    public bool Ended => Phase is BatchPhase.Finished or BatchPhase.Cancelled or BatchPhase.Stopped;
}

/// <summary>A batch: its photos, their outcomes and its phase, durable in Redis. Keyed by the batch ID.
/// Once submitted it drives itself (a reminder restarts it on another silo if its silo dies).</summary>
public interface IBatchGrain : IGrainWithStringKey
{
    /// <summary>Starts the batch; an ID already used is refused (InvalidOperationException).</summary>
    Task<BatchStatus> Submit(BatchSpec spec);
    Task<BatchStatus> GetStatus();
    /// <summary>Stops handing out photos; photos already running finish and are recorded.</summary>
    Task<BatchStatus> Cancel();
}

/// <summary>One photo of one batch (key "BATCH/INDEX"): runs it once through the silo's engine service and
/// keeps the outcome in Redis, so asking again (after a silo died) returns it instead of running it again.</summary>
public interface IPhotoGrain : IGrainWithStringKey
{
    Task<PhotoOutcome> Run(PhotoItem photo, IReadOnlyDictionary<string, string> parameters);
}
