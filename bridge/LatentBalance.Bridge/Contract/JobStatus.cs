using System.Text.Json.Serialization;

namespace LatentBalance.Bridge.Contract;

/// <summary>
/// Snapshot of a job. D-Bus: GetJob(s job_id) -> (s state, d progress, s stage, s output_path, s error_code, s error).
/// </summary>
public sealed record JobStatus
{
    public string JobId { get; init; } = "";
    public JobState State { get; init; }
    /// <summary>0..1.</summary>
    public double Progress { get; init; }
    /// <summary>Human-readable current stage or message ("encode", "balance", "apply-lut"...).</summary>
    public string Stage { get; init; } = "";
    /// <summary>Output path (image for Balance, .cube for ExportCube).</summary>
    public string OutputPath { get; init; } = "";
    /// <summary>Set when <see cref="State"/> is Failed (or Cancelled: <see cref="BridgeErrorCode.Cancelled"/>).</summary>
    [JsonConverter(typeof(JsonStringEnumConverter<BridgeErrorCode>))]
    public BridgeErrorCode? ErrorCode { get; init; }
    public string? Error { get; init; }
}

/// <summary>
/// Final outcome of a job, returned by Wait. A failed job is a normal result (State=Failed, ErrorCode set), not an error reply.
/// D-Bus: Wait(s job_id, i timeout_ms) -> (s state, s output_path, s error_code, s error, t elapsed_ms, a{ss} details).
/// </summary>
public sealed record JobResult
{
    public string JobId { get; init; } = "";
    public JobState State { get; init; }
    public string OutputPath { get; init; } = "";
    [JsonConverter(typeof(JsonStringEnumConverter<BridgeErrorCode>))]
    public BridgeErrorCode? ErrorCode { get; init; }
    public string? Error { get; init; }
    /// <summary>Milliseconds from start of execution (not queueing) to completion.</summary>
    public long ElapsedMs { get; init; }
    /// <summary>What the filter reports about a finished job, keyed by <see cref="JobDetails"/> names
    /// (invariant-culture text): the same for every client, in-process or over a transport.</summary>
    public IReadOnlyDictionary<string, string> Details { get; init; } = new Dictionary<string, string>();
}

/// <summary>The keys of <see cref="JobResult.Details"/> that the shipped filters fill.</summary>
public static class JobDetails
{
    /// <summary>Pixels of the input, "W" and "H".</summary>
    public const string Width = "width", Height = "height";
    /// <summary>Mean CIEDE2000 between the model tile before and after the correction.</summary>
    public const string TileDeltaE = "tile_delta_e";
    /// <summary>The balancer's own strength per iteration, comma-separated.</summary>
    public const string BalancerStrengths = "balancer_strengths";
    /// <summary>1, or below 1 where a photo with little colour information was damped toward the identity.</summary>
    public const string Damping = "damping";
    /// <summary>What the user should know about the photo, one line each (newline-separated).</summary>
    public const string Notes = "notes";
    /// <summary>Prefix of per-stage timings in milliseconds ("ms.encode", ...).</summary>
    public const string TimingPrefix = "ms.";
}
