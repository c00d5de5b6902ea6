using System.Diagnostics;
using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.DBus;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Engine.Tests.Pipeline;
using LatentBalance.Onnx;

namespace LatentBalance.Benchmarks;

/// <summary>
/// The daemon's cost, in one run: (1) cold start, from launching <c>latentbalance daemon</c> on a private bus to the
/// first balanced 24 MP JPEG; (2) with warm models on both sides, a D-Bus round trip (Balance + Wait) against
/// the same request to the engine service in this process (no transport), interleaved. Goal: round trip &lt;= in-process x 1.05 + 20 ms.
/// </summary>
static class DaemonBenchmark
{
    public static async Task RunAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), "latentbalance-bench");
        Directory.CreateDirectory(dir);
        var input = BenchImages.Jpeg24Mp(dir);
        var pack = ModelPack.DefaultDirectory();
        const int runs = 5;

        using var bus = BenchBus.Start(dir);
        var clock = Stopwatch.StartNew();
        using var daemon = StartDaemon(bus.Address, pack);
        await WaitUntilServing(bus.Address, daemon);
        double nameMs = clock.Elapsed.TotalMilliseconds;
        using var client = DBusEngineClient.Connect(new DBusClientOptions { Address = bus.Address, CallTimeoutMs = 600_000, SubscribeToSignals = false });
        await RoundTrip(client, input, Path.Combine(dir, "daemon-cold.jpg"));
        double coldMs = clock.Elapsed.TotalMilliseconds;

        using var engine = EngineRuntime.Load(pack);
        engine.BalanceFile(input, Path.Combine(dir, "inproc.jpg"), new BalanceOptions()); // warm-up

        var inproc = new List<double>();
        var daemonRt = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            var sw = Stopwatch.StartNew();
            engine.BalanceFile(input, Path.Combine(dir, "inproc.jpg"), new BalanceOptions());
            inproc.Add(sw.Elapsed.TotalMilliseconds);
            daemonRt.Add(await RoundTrip(client, input, Path.Combine(dir, "daemon.jpg")));
        }
        double a = BenchImages.Median(inproc), b = BenchImages.Median(daemonRt);
        double budget = a * 1.05 + 20;
        Console.WriteLine($"input: 6000x4000 JPEG, {runs} runs interleaved, medians, {Environment.ProcessorCount} cores");
        Console.WriteLine($"cold start: bus name owned after {nameMs,8:F0} ms; first result after {coldMs,8:F0} ms");
        Console.WriteLine($"in-process balance      : {a,8:F0} ms   (runs: {string.Join(", ", inproc.Select(x => x.ToString("F0")))})");
        Console.WriteLine($"daemon round trip (D-Bus): {b,7:F0} ms   (runs: {string.Join(", ", daemonRt.Select(x => x.ToString("F0")))})");
        Console.WriteLine($"ratio daemon / in-process: {b / a:F3}  overhead {b - a:F0} ms; goal <= {budget:F0} ms: {(b <= budget ? "met" : "NOT met")}");
        daemon.Kill(entireProcessTree: true);
    }

    static async Task<double> RoundTrip(DBusEngineClient client, string input, string output)
    {
        var sw = Stopwatch.StartNew();
        var t = await client.BalanceAsync(new BalanceRequest { InputPath = input, OutputPath = output, Overwrite = true });
        var r = await client.WaitAsync(t.JobId, -1);
        if (r.State != JobState.Done) throw new InvalidOperationException($"daemon job failed: {r.ErrorCode}: {r.Error}");
        return sw.Elapsed.TotalMilliseconds;
    }

    /// <summary>Waits until the daemon owns its bus name (5 minutes at most).</summary>
    internal static async Task WaitUntilServing(string busAddress, Process daemon)
    {
        var clock = Stopwatch.StartNew();
        while (!DBusEngineClient.IsEngineRunning(busAddress))
        {
            if (daemon.HasExited) throw new InvalidOperationException($"the daemon exited with code {daemon.ExitCode}");
            if (clock.Elapsed > TimeSpan.FromMinutes(5)) throw new TimeoutException("the daemon did not claim its bus name in 5 minutes");
            await Task.Delay(20);
        }
    }

    internal static Process StartDaemon(string busAddress, string pack, params string[] extra)
    {
        var cli = CliDll();
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardError = true };
        foreach (var a in new[] { cli, "daemon", "--bus-address", busAddress, "--pack", pack }.Concat(extra)) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.ErrorDataReceived += (_, _) => { }; // drain the JSON log
        p.BeginErrorReadLine();
        return p;
    }

    internal static string CliDll()
    {
        var bin = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)); // .../bin/<cfg>/net10.0
        var cfg = bin.Parent!.Name;
        for (var d = bin; d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "LatentBalance.sln")))
                return Path.Combine(d.FullName, "engine", "LatentBalance.Cli", "bin", cfg, "net10.0", "latentbalance.dll");
        throw new FileNotFoundException("LatentBalance.sln not found above " + bin.FullName);
    }

    /// <summary>A private dbus-daemon for the benchmark (the user's session bus is left alone).</summary>
    internal sealed class BenchBus : IDisposable
    {
        readonly Process _p;
        BenchBus(Process p, string address) { _p = p; Address = address; }
        public string Address { get; }

        public static BenchBus Start(string dir)
        {
            var sock = Path.Combine(dir, $"bus-{Environment.ProcessId}");
            var psi = new ProcessStartInfo("dbus-daemon") { UseShellExecute = false, RedirectStandardOutput = true };
            foreach (var a in new[] { "--session", "--nofork", "--nopidfile", "--print-address=1", $"--address=unix:path={sock}" }) psi.ArgumentList.Add(a);
            var p = Process.Start(psi)!;
            var line = p.StandardOutput.ReadLine() ?? throw new InvalidOperationException("dbus-daemon printed no address");
            return new BenchBus(p, line.Trim());
        }

        public void Dispose()
        {
            try { _p.Kill(); _p.WaitForExit(5000); } catch (InvalidOperationException) { }
            _p.Dispose();
        }
    }
}
