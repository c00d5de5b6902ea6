using System.Diagnostics;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Engine.Tests.Pipeline;
using LatentBalance.Onnx;

namespace LatentBalance.Benchmarks;

/// <summary>
/// Balances a 24 MP JPEG with warm models and prints each stage's time, next to the time libvips
/// alone takes to load and save the same image (the floor any tool has to pay), in the same run.
/// </summary>
static class EngineBenchmark
{
    public static Task RunAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), "latentbalance-bench");
        Directory.CreateDirectory(dir);
        var input = BenchImages.Jpeg24Mp(dir);
        var output = Path.Combine(dir, "out.jpg");
        const int runs = 5;

        using var engine = EngineRuntime.Load();
        engine.BalanceFile(input, output, new BalanceOptions()); // warm-up: JIT, allocator, caches

        var floor = new List<double>();
        var total = new List<double>();
        var stages = new Dictionary<string, List<double>>();
        for (int i = 0; i < runs; i++)
        {
            // interleave the two so that load on the shared machine hits both alike
            var sw = Stopwatch.StartNew();
            BenchImages.LibvipsLoadSave(input, output);
            floor.Add(sw.Elapsed.TotalMilliseconds);

            sw.Restart();
            var r = engine.BalanceFile(input, output, new BalanceOptions());
            total.Add(sw.Elapsed.TotalMilliseconds);
            foreach (var (k, v) in r.TimingsMs) (stages.TryGetValue(k, out var l) ? l : stages[k] = []).Add(v);
        }
        double f = BenchImages.Median(floor), t = BenchImages.Median(total);
        Console.WriteLine($"input: 6000x4000 JPEG ({new FileInfo(input).Length / 1e6:F1} MB, mosaic of real photos), {runs} runs, medians, {engine.Networks.Runtime} on {engine.Networks.Device}, {Environment.ProcessorCount} cores");
        Console.WriteLine($"libvips load+save alone : {f,8:F0} ms");
        Console.WriteLine($"balance end to end      : {t,8:F0} ms");
        foreach (var (k, v) in stages) Console.WriteLine($"  {k,-22}: {BenchImages.Median(v),8:F0} ms");
        Console.WriteLine($"ratio end-to-end / floor: {t / f:F2}x (goal: 2x)");
        return Task.CompletedTask;
    }
}
