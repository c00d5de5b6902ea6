using LatentBalance.Bridge.Contract;

namespace LatentBalance.Bridge.Rpc;

/// <summary>
/// Serves an <see cref="IEngineService"/> as newline-delimited JSON-RPC 2.0 over a pair of streams (the daemon's
/// stdin/stdout): requests in, responses and JobProgress/JobCompleted notifications out. Nothing else may be written
/// to <c>output</c> (log to stderr). Several hosts may serve the same service at once (one per connection).
/// Lines that are not JSON-RPC 2.0 objects get a -32700/-32600 error reply and the session goes on.
/// </summary>
public static class StdioEngineHost
{
    /// <summary>Serves until <paramref name="input"/> reaches end of stream or <paramref name="cancellationToken"/> fires.</summary>
    public static async Task RunAsync(IEngineService service, Stream input, Stream output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        var guardedOutput = new SerializedOutput(output);
        var guard = new LineGuard(input, guardedOutput);
        using var pumpStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pump = Task.Run(() => guard.PumpAsync(pumpStop.Token));
        using var rpc = RpcWire.CreateRpc(guardedOutput, guard.RpcInput);
        rpc.CancelLocallyInvokedMethodsWhenConnectionIsClosed = true;
        rpc.AddLocalRpcTarget(new EngineRpcTarget(service), new StreamJsonRpc.JsonRpcTargetOptions { NotifyClientOfEvents = false });

        void OnProgress(object? s, JobProgressEventArgs e) => Notify(rpc, RpcWire.Methods.JobProgress, e);
        void OnCompleted(object? s, JobCompletedEventArgs e) => Notify(rpc, RpcWire.Methods.JobCompleted, e);
        service.JobProgress += OnProgress;
        service.JobCompleted += OnCompleted;
        try
        {
            rpc.StartListening();
            using (cancellationToken.Register(() => rpc.Dispose()))
            {
                try
                {
                    await rpc.Completion.ConfigureAwait(false);
                }
                catch (Exception) when (cancellationToken.IsCancellationRequested)
                {
                }
                catch (StreamJsonRpc.ConnectionLostException)
                {
                }
            }
        }
        finally
        {
            service.JobProgress -= OnProgress;
            service.JobCompleted -= OnCompleted;
            pumpStop.Cancel();
            // Console stdin ignores cancellation: do not hang on a read that may never return.
            await Task.WhenAny(pump, Task.Delay(TimeSpan.FromSeconds(1))).ConfigureAwait(false);
        }
    }

    /// <summary>Serves on this process's stdin/stdout.</summary>
    public static Task RunOnConsoleAsync(IEngineService service, CancellationToken cancellationToken = default) =>
        RunAsync(service, Console.OpenStandardInput(), Console.OpenStandardOutput(), cancellationToken);

    private static async void Notify<T>(StreamJsonRpc.JsonRpc rpc, string method, T args)
    {
        try
        {
            if (!rpc.IsDisposed) await rpc.NotifyWithParameterObjectAsync(method, args).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ObjectDisposedException or StreamJsonRpc.ConnectionLostException or IOException or OperationCanceledException)
        {
            // The peer went away; the job goes on regardless.
        }
    }
}
