using System.Text.Json;
using LatentBalance.Bridge.Contract;
using StreamJsonRpc;

namespace LatentBalance.Bridge.Rpc;

/// <summary>
/// Wire settings of the stdio transport: JSON-RPC 2.0, one compact JSON message per line (UTF-8, "\n" delimited),
/// camelCase member names, enums as strings. Method and notification names equal the D-Bus member names.
/// </summary>
public static class RpcWire
{
    public static class Methods
    {
        public const string GetInfo = "GetInfo";
        public const string ListFilters = "ListFilters";
        public const string Balance = "Balance";
        public const string ExportCube = "ExportCube";
        public const string Wait = "Wait";
        public const string Cancel = "Cancel";
        public const string GetJob = "GetJob";
        public const string JobProgress = "JobProgress";
        public const string JobCompleted = "JobCompleted";
    }

    public static JsonSerializerOptions CreateJsonOptions() => new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        PropertyNameCaseInsensitive = true,
    };

    internal static JsonRpc CreateRpc(Stream sendTo, Stream receiveFrom)
    {
        var formatter = new SystemTextJsonFormatter();
        formatter.JsonSerializerOptions = CreateJsonOptions();
        // Not StreamJsonRpc's NewLineDelimitedMessageHandler: it hands the pipe's buffer back to the shared pool before
        // the result is decoded (see OwnedLineMessageHandler).
        return new JsonRpc(new OwnedLineMessageHandler(sendTo, receiveFrom, formatter));
    }
}

/// <summary>The "data" member of our JSON-RPC errors: {"code":"NotFound"}.</summary>
public sealed record RpcErrorData
{
    public string Code { get; init; } = "";
}
