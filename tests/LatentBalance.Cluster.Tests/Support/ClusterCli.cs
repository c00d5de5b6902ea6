using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using LatentBalance.Daemon.Tests.Support;
using LatentBalance.Engine.Tests;

namespace LatentBalance.Cluster.Tests.Support;

/// <summary><c>latentbalance</c> from the CLI's build output as a child process, with the test model pack.</summary>
public static class ClusterCli
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public JsonElement Json => JsonDocument.Parse(Stdout).RootElement;
        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }

    public static ProcessStartInfo StartInfo(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(CliPaths.CliDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in TestPack.Environment) psi.Environment[k] = v;
        psi.Environment.Remove("LATENTBALANCE_REDIS");
        psi.Environment["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=/nonexistent"; // `balance` runs in this process, never a user's daemon
        return psi;
    }

    /// <summary>Runs to the end (killed after <paramref name="timeout"/>).</summary>
    public static async Task<Result> RunAsync(TimeSpan timeout, params string[] args)
    {
        using var p = Process.Start(StartInfo(args))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"latentbalance {string.Join(' ', args)} ran past {timeout}:\n{await stderr}");
        }
        return new Result(p.ExitCode, await stdout, await stderr);
    }
}

/// <summary><c>latentbalance cluster silo</c> as a child process on free ports; ready once it says "silo up".</summary>
public sealed class SiloProcess : IDisposable
{
    readonly Process _process;
    readonly TaskCompletionSource _up = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ConcurrentQueue<string> Log { get; } = new();
    public int Pid => _process.Id;
    public int GatewayPort { get; }

    public SiloProcess(string redis, int jobs, string clusterId = "test")
    {
        GatewayPort = RedisServer.FreePort();
        _process = Process.Start(ClusterCli.StartInfo("cluster", "silo", "--redis", redis, "--cluster-id", clusterId, "--address", "127.0.0.1",
            "--port", RedisServer.FreePort().ToString(), "--gateway-port", GatewayPort.ToString(), "--jobs", jobs.ToString()))!;
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) { _up.TrySetException(new InvalidOperationException("the silo ended:\n" + string.Join("\n", Log))); return; }
            Log.Enqueue(e.Data);
            if (e.Data.Contains("silo up")) _up.TrySetResult();
        };
        _process.OutputDataReceived += (_, e) => { if (e.Data != null) Log.Enqueue(e.Data); };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
    }

    public async Task WaitUpAsync()
    {
        if (await Task.WhenAny(_up.Task, Task.Delay(TimeSpan.FromMinutes(4))) != _up.Task)
            throw new TimeoutException("the silo was not up within 4 minutes:\n" + string.Join("\n", Log));
        await _up.Task;
    }

    /// <summary>SIGKILL: no shutdown, no cleanup.</summary>
    public void KillHard()
    {
        if (!_process.HasExited) { _process.Kill(); _process.WaitForExit(10_000); }
    }

    public bool HasExited => _process.HasExited;

    public void Dispose()
    {
        try { KillHard(); } catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
