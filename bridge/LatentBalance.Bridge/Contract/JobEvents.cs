using System.Text.Json.Serialization;

namespace LatentBalance.Bridge.Contract;

/// <summary>Signal JobProgress(s job_id, d progress, s stage); JSON-RPC notification "JobProgress".</summary>
public sealed record JobProgressEventArgs
{
    public string JobId { get; init; } = "";
    public double Progress { get; init; }
    public string Stage { get; init; } = "";
}

/// <summary>Signal JobCompleted(s job_id, s state, s output_path, s error_code, s error); JSON-RPC notification "JobCompleted".
/// Sent once per job, before Wait returns that job's result.</summary>
public sealed record JobCompletedEventArgs
{
    public string JobId { get; init; } = "";
    public JobState State { get; init; }
    public string OutputPath { get; init; } = "";
    [JsonConverter(typeof(JsonStringEnumConverter<BridgeErrorCode>))]
    public BridgeErrorCode? ErrorCode { get; init; }
    public string? Error { get; init; }
}
