using LatentBalance.Bridge.Contract;
using StreamJsonRpc;

namespace LatentBalance.Bridge.Rpc;

/// <summary>
/// JSON-RPC methods of the stdio host. Params may be named (an object) or positional; Balance and ExportCube take the
/// request object itself as params, e.g. {"jsonrpc":"2.0","id":1,"method":"Balance","params":{"inputPath":"/a.jpg","outputPath":"/b.jpg"}}.
/// Every failure becomes a JSON-RPC error with code 1000 + BridgeErrorCode and data {"code":"&lt;Code&gt;"}.
/// </summary>
internal sealed class EngineRpcTarget(IEngineService service)
{
    [JsonRpcMethod(RpcWire.Methods.GetInfo)]
    public Task<EngineInfo> GetInfo(CancellationToken ct) => Guard(() => service.GetInfoAsync(ct));

    [JsonRpcMethod(RpcWire.Methods.ListFilters)]
    public Task<IReadOnlyList<FilterDescriptor>> ListFilters(CancellationToken ct) => Guard(() => service.ListFiltersAsync(ct));

    [JsonRpcMethod(RpcWire.Methods.Balance, UseSingleObjectParameterDeserialization = true)]
    public Task<JobTicket> Balance(BalanceRequest? request, CancellationToken ct) =>
        Guard(() => service.BalanceAsync(RequestRules.Validate(request ?? throw Missing("Balance")), ct));

    [JsonRpcMethod(RpcWire.Methods.ExportCube, UseSingleObjectParameterDeserialization = true)]
    public Task<JobTicket> ExportCube(ExportCubeRequest? request, CancellationToken ct) =>
        Guard(() => service.ExportCubeAsync(RequestRules.Validate(request ?? throw Missing("ExportCube")), ct));

    [JsonRpcMethod(RpcWire.Methods.Wait)]
    public Task<JobResult> Wait(string jobId, int timeoutMs = -1, CancellationToken ct = default) =>
        Guard(() => { RequestRules.ValidateJobId(jobId); return service.WaitAsync(jobId, timeoutMs, ct); });

    [JsonRpcMethod(RpcWire.Methods.Cancel)]
    public Task<bool> Cancel(string jobId, CancellationToken ct = default) =>
        Guard(() => { RequestRules.ValidateJobId(jobId); return service.CancelAsync(jobId, ct); });

    [JsonRpcMethod(RpcWire.Methods.GetJob)]
    public Task<JobStatus> GetJob(string jobId, CancellationToken ct = default) =>
        Guard(() => { RequestRules.ValidateJobId(jobId); return service.GetJobAsync(jobId, ct); });

    private static BridgeException Missing(string method) =>
        new(BridgeErrorCode.InvalidArgument, $"{method} needs a request object as params");

    private static async Task<T> Guard<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            var b = BridgeException.From(ex);
            if (b.Code == BridgeErrorCode.Internal) System.Diagnostics.Trace.TraceError($"JSON-RPC call failed: {ex}");
            throw new LocalRpcException(b.Message)
            {
                ErrorCode = BridgeErrors.ToJsonRpcCode(b.Code),
                ErrorData = new RpcErrorData { Code = BridgeErrors.ToWire(b.Code) },
            };
        }
    }
}
