using System.Diagnostics;
using LatentBalance.Bridge.Contract;
using LatentBalance.Bridge.DBus;
using LatentBalance.Engine.Pipeline;

namespace LatentBalance.Benchmarks;

/// <summary>
/// The soak run (issue 13): <c>soak [COUNT] [CLIENTS]</c> (default 2,000 balances from 8 clients) sends
/// real photos (the first 50 of shared/data/photos/bsds500, in turn) through one daemon on a private
/// D-Bus, each client on its own connection with one job in flight, and samples the daemon's resident
/// memory every 100 ms. Prints the memory once warm, after the first 100 balances, every 250, at the
/// end and at its peak, and the end against the first 100 (goal: within 20%); every failed job with
/// its code (there must be none: a native failure is no longer retried, it would fail the job).
/// </summary>
static class SoakBenchmark
{
    public static async Task RunAsync()
    {
        var args = Environment.GetCommandLineArgs().SkipWhile(a => !a.Equals("soak", StringComparison.OrdinalIgnoreCase)).Skip(1).ToArray();
        int count = args.Length > 0 ? int.Parse(args[0]) : 2000;
        int clients = args.Length > 1 ? int.Parse(args[1]) : 8;
        var dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "latentbalance-bench", "soak-" + Environment.ProcessId)).FullName;
        var photos = Directory.GetFiles(Path.Combine(BenchImages.SharedPhotos(), "bsds500"))
            .Where(p => p.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).Take(50).ToArray();

        using var bus = DaemonBenchmark.BenchBus.Start(dir);
        using var daemon = DaemonBenchmark.StartDaemon(bus.Address, ModelPack.DefaultDirectory());
        await DaemonBenchmark.WaitUntilServing(bus.Address, daemon);
        var connections = Enumerable.Range(0, clients)
            .Select(_ => DBusEngineClient.Connect(new DBusClientOptions { Address = bus.Address, CallTimeoutMs = 600_000, SubscribeToSignals = false })).ToList();
        await Balance(connections[0], photos[0], Path.Combine(dir, "warm.jpg"));   // the models are loaded on the first job
        long warm = Rss(daemon.Id);
        Console.WriteLine($"{count} balances from {clients} clients ({photos.Length} photos, 481x321 JPEG) through one daemon, {Environment.ProcessorCount} cores");
        Console.WriteLine($"daemon resident memory once warm: {Mb(warm)}");

        int next = -1, done = 0, failed = 0;
        long afterFirst100 = 0, peak = warm;
        var failures = new List<string>();
        var sampler = Task.Run(async () =>
        {
            while (Volatile.Read(ref done) + Volatile.Read(ref failed) < count && !daemon.HasExited)
            {
                peak = Math.Max(peak, Rss(daemon.Id));
                await Task.Delay(100);
            }
        });
        var clock = Stopwatch.StartNew();
        var workers = connections.Select((client, k) => Task.Run(async () =>
        {
            var output = Path.Combine(dir, $"client-{k}.jpg");
            for (int i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next))
            {
                try { await Balance(client, photos[i % photos.Length], output); }
                catch (Exception e)
                {
                    Interlocked.Increment(ref failed);
                    lock (failures) failures.Add($"balance {i} ({Path.GetFileName(photos[i % photos.Length])}): {e.Message.Split('\n')[0]}");
                    continue;
                }
                int n = Interlocked.Increment(ref done);
                if (n == 100) afterFirst100 = Rss(daemon.Id);
                if (n % 250 == 0) Console.WriteLine($"  {n,5} balanced, {clock.Elapsed.TotalSeconds,6:F0} s, resident {Mb(Rss(daemon.Id))}");
            }
        })).ToArray();
        await Task.WhenAll(workers);
        await sampler;
        double seconds = clock.Elapsed.TotalSeconds;
        long end = Rss(daemon.Id), hwm = Hwm(daemon.Id);
        Console.WriteLine($"{done} balanced, {failed} failed in {seconds:F0} s ({done / seconds * 60:F0} photos per minute)");
        foreach (var f in failures.Take(10)) Console.WriteLine("  FAILED " + f);
        Console.WriteLine($"resident memory: warm {Mb(warm)}, after 100 {Mb(afterFirst100)}, end {Mb(end)}, peak sampled {Mb(peak)} (kernel's high-water mark {Mb(hwm)})");
        double ratio = (double)end / afterFirst100;
        Console.WriteLine($"end / after 100: {ratio:F3}; goal <= 1.20: {(ratio <= 1.20 ? "met" : "NOT met")}; failed jobs: {failed} (goal 0)");
        foreach (var c in connections) c.Dispose();
        daemon.Kill(entireProcessTree: true);
        Directory.Delete(dir, recursive: true);
    }

    static async Task Balance(DBusEngineClient client, string input, string output)
    {
        var t = await client.BalanceAsync(new BalanceRequest { InputPath = input, OutputPath = output, Overwrite = true });
        var r = await client.WaitAsync(t.JobId, -1);
        if (r.State != JobState.Done) throw new InvalidOperationException($"{r.ErrorCode}: {r.Error}");
    }

    static long Rss(int pid) => Status(pid, "VmRSS:");
    static long Hwm(int pid) => Status(pid, "VmHWM:");

    /// <summary>A memory line of /proc/PID/status, in bytes (0 once the process is gone).</summary>
    static long Status(int pid, string key)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith(key, StringComparison.Ordinal))
                    return long.Parse(line[key.Length..].Trim().Split(' ')[0]) * 1024;
        }
        catch (IOException) { }
        return 0;
    }

    static string Mb(long bytes) => $"{bytes / 1048576.0:F0} MB";
}
