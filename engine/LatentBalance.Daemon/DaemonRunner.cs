using System.Diagnostics;
using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.DBus;
using LatentBalance.Bridge.Rpc;
using LatentBalance.Daemon.Filters;

namespace LatentBalance.Daemon;

/// <summary>
/// <c>latentbalance daemon</c>: discovers the filters, takes its bus name, loads the model pack once (in the background,
/// calls that need it wait), serves the contract on the
/// session bus (or JSON-RPC on stdio) until the bus goes away, input ends, it is stopped, or it was idle long enough.
/// </summary>
public static class DaemonRunner
{
    /// <summary>Exit codes: 0 normal stop, 3 the bus name is taken (a daemon already runs), 4 no bus.</summary>
    public static async Task<int> RunAsync(DaemonOptions options, DaemonLog log, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        log.Info("daemon_starting", ("pid", Environment.ProcessId), ("transport", options.Stdio ? "stdio" : "dbus"), ("version", EngineService.Version));

        EngineService service;
        // the models load in the background: the bus name is owned within a fraction of a second (D-Bus activation
        // waits for it), and calls that need the models wait for them
        try { service = EngineService.OpenInBackground(options, log, cancel); }
        catch (OperationCanceledException) { return 0; }
        using var idle = options.IdleExit is { } limit ? new IdleMonitor(limit, () => service.ActiveJobs > 0 || service.Loading) : null;
        if (idle != null) service.Activity = idle.Touch;
        var idleTask = idle?.Idle ?? Task.Delay(Timeout.Infinite, CancellationToken.None);
        var stopped = Task.Delay(Timeout.Infinite, cancel).ContinueWith(_ => { }, TaskScheduler.Default);

        try
        {
            if (options.Stdio)
            {
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                service.StartLoading();
                log.Info("daemon_ready", ("transport", "stdio"), ("filters", service.Filters.Select(f => f.Description.Id).ToArray()), ("ms", clock.Elapsed.TotalMilliseconds));
                var serving = StdioEngineHost.RunOnConsoleAsync(service, stop.Token);
                var first = await Task.WhenAny(serving, idleTask, stopped).ConfigureAwait(false);
                LogStop(log, first == serving ? "end of input" : first == idleTask ? "idle" : "stopped");
                stop.Cancel();
                try { await serving.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false); } catch { }
            }
            else
            {
                DBusEngineHost host;
                try { host = DBusEngineHost.Start(service, new DBusHostOptions { Address = options.BusAddress }); }
                catch (BridgeException e) when (e.Code is BridgeErrorCode.Busy or BridgeErrorCode.Unavailable)
                {
                    log.Error("bus_failed", ("code", e.Code.ToString()), ("error", e.Message));
                    return e.Code == BridgeErrorCode.Busy ? 3 : 4;
                }
                using (host)
                {
                    service.StartLoading(); // the name is owned: now the models
                    log.Info("daemon_ready", ("transport", "dbus"), ("name", host.BusName), ("unique_name", host.UniqueName), ("ms", clock.Elapsed.TotalMilliseconds));
                    log.Info("filters_ready", ("filters", service.Filters.Select(f => f.Description.Id).ToArray()), ("ms", clock.Elapsed.TotalMilliseconds));
                    var first = await Task.WhenAny(host.Closed, idleTask, stopped).ConfigureAwait(false);
                    LogStop(log, first == host.Closed ? "bus closed" : first == idleTask ? "idle" : "stopped");
                }
            }
        }
        finally
        {
            service.Dispose(); // cancels queued and running jobs, then frees the models once none runs
        }
        return 0;
    }

    static void LogStop(DaemonLog log, string reason) => log.Info("daemon_stopping", ("reason", reason));
}
