using System.Text.Json.Serialization;

namespace LatentBalance.Bridge.Contract;

/// <summary>Life cycle of a job. Wire spelling (D-Bus and JSON): lower case, e.g. "running".</summary>
[JsonConverter(typeof(JsonStringEnumConverter<JobState>))]
public enum JobState
{
    [JsonStringEnumMemberName("queued")] Queued,
    [JsonStringEnumMemberName("running")] Running,
    [JsonStringEnumMemberName("done")] Done,
    [JsonStringEnumMemberName("failed")] Failed,
    [JsonStringEnumMemberName("cancelled")] Cancelled,
}

/// <summary>Type of a filter parameter. Wire spelling: "int", "double", "bool", "string", "path".</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ParameterType>))]
public enum ParameterType
{
    [JsonStringEnumMemberName("int")] Int,
    [JsonStringEnumMemberName("double")] Double,
    [JsonStringEnumMemberName("bool")] Bool,
    [JsonStringEnumMemberName("string")] String,
    [JsonStringEnumMemberName("path")] Path,
}

/// <summary>Wire spellings of the contract enums, shared by the D-Bus marshaller and docs.</summary>
public static class WireNames
{
    public static bool IsTerminal(this JobState state) => state is JobState.Done or JobState.Failed or JobState.Cancelled;

    public static string ToWire(JobState state) => state switch
    {
        JobState.Queued => "queued",
        JobState.Running => "running",
        JobState.Done => "done",
        JobState.Failed => "failed",
        JobState.Cancelled => "cancelled",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "unknown job state"),
    };

    public static JobState ParseJobState(string text) => text switch
    {
        "queued" => JobState.Queued,
        "running" => JobState.Running,
        "done" => JobState.Done,
        "failed" => JobState.Failed,
        "cancelled" => JobState.Cancelled,
        _ => throw new BridgeException(BridgeErrorCode.InvalidArgument, $"unknown job state '{text}'"),
    };

    public static string ToWire(ParameterType type) => type switch
    {
        ParameterType.Int => "int",
        ParameterType.Double => "double",
        ParameterType.Bool => "bool",
        ParameterType.String => "string",
        ParameterType.Path => "path",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown parameter type"),
    };

    public static ParameterType ParseParameterType(string text) => text switch
    {
        "int" => ParameterType.Int,
        "double" => ParameterType.Double,
        "bool" => ParameterType.Bool,
        "string" => ParameterType.String,
        "path" => ParameterType.Path,
        _ => throw new BridgeException(BridgeErrorCode.InvalidArgument, $"unknown parameter type '{text}'"),
    };
}
