using System.Collections.Concurrent;
using System.Diagnostics;
using LatentBalance.Bridge.Rpc;
using LatentBalance.Engine.Tests;

namespace LatentBalance.Daemon.Tests.Support;

/// <summary>
/// <c>latentbalance daemon</c> as a child process, from the CLI's build output, with the test pack and a private
/// XDG_DATA_HOME (so the user's own plug-ins do not interfere). Keeps its JSON log lines for assertions.
/// </summary>
public sealed class DaemonProcess : IDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(4);
    private readonly Process _process;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ConcurrentQueue<string> LogLines { get; } = new();

    private DaemonProcess(Process process) => _process = process;

    public Process Process => _process;

    public static ProcessStartInfo StartInfo(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false,
            WorkingDirectory = TestPaths.TempDir("daemon-cwd"),
        };
        psi.ArgumentList.Add(CliPaths.CliDll);
        psi.ArgumentList.Add("daemon");
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in TestPack.Environment) psi.Environment[k] = v;
        psi.Environment["XDG_DATA_HOME"] = TestPaths.TempDir("xdg-data");
        psi.Environment.Remove("LATENTBALANCE_FILTER_PATH");
        return psi;
    }

    /// <summary>Starts the daemon on a private bus and waits for its "daemon_ready" log line.</summary>
    public static DaemonProcess StartOnBus(string busAddress, params string[] extra)
    {
        var psi = StartInfo(["--bus-address", busAddress, .. extra]);
        psi.Environment["DBUS_SESSION_BUS_ADDRESS"] = busAddress;
        var d = new DaemonProcess(Process.Start(psi)!);
        d._process.ErrorDataReceived += (_, e) => d.OnLog(e.Data);
        d._process.OutputDataReceived += (_, e) => { if (e.Data != null) d.LogLines.Enqueue("stdout: " + e.Data); };
        d._process.BeginErrorReadLine();
        d._process.BeginOutputReadLine();
        d.WaitReady();
        return d;
    }

    /// <summary>Starts <c>daemon --stdio</c> through the bridge's JSON-RPC client.</summary>
    public static StdioEngineClient StartStdio(ConcurrentQueue<string> log, params string[] extra) =>
        StdioEngineClient.Launch(StartInfo(["--stdio", .. extra]), line => log.Enqueue(line));

    private void OnLog(string? line)
    {
        if (line is null) { _ready.TrySetException(new InvalidOperationException("the daemon closed stderr before it was ready:\n" + Log)); return; }
        LogLines.Enqueue(line);
        if (line.Contains("\"event\":\"daemon_ready\"")) _ready.TrySetResult();
    }

    private void WaitReady()
    {
        var exited = _process.WaitForExitAsync();
        var first = Task.WhenAny(_ready.Task, exited, Task.Delay(StartTimeout)).GetAwaiter().GetResult();
        if (first == _ready.Task) return;
        string why = first == exited ? $"exited with code {_process.ExitCode}" : $"was not ready within {StartTimeout.TotalSeconds} s";
        Dispose();
        throw new InvalidOperationException($"the daemon {why}:\n{Log}");
    }

    public string Log => string.Join("\n", LogLines);

    public void Dispose()
    {
        try { if (!_process.HasExited) { _process.Kill(entireProcessTree: true); _process.WaitForExit(10_000); } } catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
