using System.Diagnostics;
using System.Text.Json;
using LatentBalance.Bridge.Contract;
using StreamJsonRpc;

namespace LatentBalance.Bridge.Rpc;

/// <summary>
/// <see cref="IEngineService"/> over newline-delimited JSON-RPC 2.0: attach to any pair of streams, or launch a
/// process (e.g. <c>latentbalance daemon --stdio</c>) and talk to its stdin/stdout. Notifications raise the events.
/// Relative paths in requests are made absolute against this process's working directory before sending.
/// </summary>
public sealed class StdioEngineClient : IEngineService, IDisposable, IAsyncDisposable
{
    private readonly JsonRpc _rpc;
    private readonly Process? _process;
    private readonly IDisposable? _streams;

    private StdioEngineClient(JsonRpc rpc, Process? process, IDisposable? streams)
    {
        _rpc = rpc;
        _process = process;
        _streams = streams;
        _rpc.AddLocalRpcTarget(new NotificationTarget(this), new JsonRpcTargetOptions { NotifyClientOfEvents = false });
        _rpc.StartListening();
    }

    public event EventHandler<JobProgressEventArgs>? JobProgress;
    public event EventHandler<JobCompletedEventArgs>? JobCompleted;

    /// <summary>Completes when the connection ends (the server closed its output or the process exited).</summary>
    public Task Closed => _rpc.Completion;

    /// <summary>The launched process, if this client launched one.</summary>
    public Process? Process => _process;

    /// <summary>Talks to a server that reads <paramref name="toServer"/> and writes <paramref name="fromServer"/>.</summary>
    public static StdioEngineClient Attach(Stream toServer, Stream fromServer, IDisposable? ownedResources = null) =>
        new(RpcWire.CreateRpc(toServer, fromServer), null, ownedResources);

    /// <summary>
    /// Starts <paramref name="startInfo"/> with stdin/stdout redirected and speaks JSON-RPC to it. Its stderr is inherited
    /// unless the caller redirected it (then each line goes to <paramref name="stderrLine"/>, or is dropped).
    /// </summary>
    public static StdioEngineClient Launch(ProcessStartInfo startInfo, Action<string>? stderrLine = null)
    {
        ArgumentNullException.ThrowIfNull(startInfo);
        startInfo.RedirectStandardInput = true;
        startInfo.RedirectStandardOutput = true;
        startInfo.UseShellExecute = false;
        Process process;
        try
        {
            process = Process.Start(startInfo) ?? throw new BridgeException(BridgeErrorCode.Unavailable, $"could not start '{startInfo.FileName}'");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new BridgeException(BridgeErrorCode.Unavailable, $"could not start '{startInfo.FileName}': {ex.Message}", ex);
        }
        if (startInfo.RedirectStandardError)
        {
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) stderrLine?.Invoke(e.Data); };
            process.BeginErrorReadLine();
        }
        return new StdioEngineClient(RpcWire.CreateRpc(process.StandardInput.BaseStream, process.StandardOutput.BaseStream), process, null);
    }

    public Task<EngineInfo> GetInfoAsync(CancellationToken cancellationToken = default) =>
        Invoke<EngineInfo>(RpcWire.Methods.GetInfo, null, cancellationToken);

    public async Task<IReadOnlyList<FilterDescriptor>> ListFiltersAsync(CancellationToken cancellationToken = default) =>
        await Invoke<List<FilterDescriptor>>(RpcWire.Methods.ListFilters, null, cancellationToken).ConfigureAwait(false);

    public Task<JobTicket> BalanceAsync(BalanceRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Invoke<JobTicket>(RpcWire.Methods.Balance, RequestRules.WithAbsolutePaths(request), cancellationToken);
    }

    public Task<JobTicket> ExportCubeAsync(ExportCubeRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Invoke<JobTicket>(RpcWire.Methods.ExportCube, RequestRules.WithAbsolutePaths(request), cancellationToken);
    }

    public Task<JobResult> WaitAsync(string jobId, int timeoutMs, CancellationToken cancellationToken = default) =>
        Invoke<JobResult>(RpcWire.Methods.Wait, new { jobId, timeoutMs }, cancellationToken);

    public Task<bool> CancelAsync(string jobId, CancellationToken cancellationToken = default) =>
        Invoke<bool>(RpcWire.Methods.Cancel, new { jobId }, cancellationToken);

    public Task<JobStatus> GetJobAsync(string jobId, CancellationToken cancellationToken = default) =>
        Invoke<JobStatus>(RpcWire.Methods.GetJob, new { jobId }, cancellationToken);

    private async Task<T> Invoke<T>(string method, object? namedArgs, CancellationToken cancellationToken)
    {
        try
        {
            return namedArgs is null
                ? await _rpc.InvokeWithCancellationAsync<T>(method, [], cancellationToken).ConfigureAwait(false)
                : await _rpc.InvokeWithParameterObjectAsync<T>(method, namedArgs, cancellationToken).ConfigureAwait(false);
        }
        catch (RemoteInvocationException ex)
        {
            throw new BridgeException(BridgeErrors.FromJsonRpcCode(ex.ErrorCode, ErrorDataCode(ex)), ex.Message, ex);
        }
        catch (Exception ex) when (ex is ConnectionLostException or ObjectDisposedException or IOException)
        {
            throw new BridgeException(BridgeErrorCode.Unavailable, $"the engine connection is closed ({method}): {ex.Message}", ex);
        }
    }

    private static string? ErrorDataCode(RemoteInvocationException ex)
    {
        object? data = ex.DeserializedErrorData ?? ex.ErrorData;
        return data switch
        {
            JsonElement { ValueKind: JsonValueKind.Object } e when e.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            RpcErrorData d => d.Code,
            _ => null,
        };
    }

    public void Dispose()
    {
        _rpc.Dispose();
        _streams?.Dispose();
        if (_process is not null)
        {
            try
            {
                _process.StandardInput.Close();
                if (!_process.WaitForExit(5000)) _process.Kill(entireProcessTree: true);
            }
            catch (Exception ex) when (ex is InvalidOperationException or IOException) { }
            _process.Dispose();
        }
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Receives the server's notifications.</summary>
    private sealed class NotificationTarget(StdioEngineClient owner)
    {
        [JsonRpcMethod(RpcWire.Methods.JobProgress, UseSingleObjectParameterDeserialization = true)]
        public void OnJobProgress(JobProgressEventArgs e) => owner.JobProgress?.Invoke(owner, e);

        [JsonRpcMethod(RpcWire.Methods.JobCompleted, UseSingleObjectParameterDeserialization = true)]
        public void OnJobCompleted(JobCompletedEventArgs e) => owner.JobCompleted?.Invoke(owner, e);
    }
}
