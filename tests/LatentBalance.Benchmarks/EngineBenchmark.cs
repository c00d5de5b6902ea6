using System.Diagnostics;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Engine.Tests.Pipeline;
using LatentBalance.Onnx;

namespace LatentBalance.Benchmarks;

/// <summary>
/// Balances 12, 24 and 48 MP JPEGs (mosaics of real photos) with warm models and prints each stage's time, next to
/// the time libvips alone takes to load and save the same image (the floor any tool has to pay), in the same run.
/// <c>--bench=engine</c>; <c>LATENTBALANCE_BENCH_RUNTIME=torch</c> measures the TorchSharp runtime instead.
/// </summary>
static class EngineBenchmark
{
    public static Task RunAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), "latentbalance-bench");
        Directory.CreateDirectory(dir);
        const int runs = 5;
        var runtime = Environment.GetEnvironmentVariable("LATENTBALANCE_BENCH_RUNTIME") ?? EngineRuntime.Onnx;
        using var engine = EngineRuntime.Load(runtime: runtime);
        // A/B in the same run (issue 16, session settings): the same pack with the ONNX sessions as they were before
        // (all cores each, the pair decoded as one batch-2 Run), balanced interleaved with the current plan
        using var store = new ModelStore();
        var pack = ModelPack.Open(ModelPack.DefaultDirectory());
        using var before = runtime == EngineRuntime.Onnx
            ? new BalanceEngine(OnnxNetworks.Load(pack, store, "cpu", beforeIssue16Plan: true), pack.Manifest.Name, pack.Correction) : null;
        Console.WriteLine($"{runs} runs per size, medians, {engine.Networks.Runtime} on {engine.Networks.Device}, {Environment.ProcessorCount} cores; floor = libvips load + save alone, interleaved with the balances");
        var sizes = new (string Name, int Across, int Down)[] { ("12 MP (4000x3000)", 8, 6), ("24 MP (6000x4000)", 12, 8), ("48 MP (8000x6000)", 16, 12) };
        var rows = new List<(string Name, double Floor, double Total, Dictionary<string, double> Stages)>();
        var beforeRows = new List<(double Total, double Encode, double Decode)>();
        foreach (var (name, across, down) in sizes)
        {
            var input = BenchImages.JpegMosaic(dir, across, down);
            var output = Path.Combine(dir, "out.jpg");
            engine.BalanceFile(input, output, new BalanceOptions()); // warm-up: JIT, allocator, caches
            var floor = new List<double>();
            var total = new List<double>();
            var serial = new List<double>();
            var stages = new Dictionary<string, List<double>>();
            var (beforeTotal, beforeEncode, beforeDecode) = (new List<double>(), new List<double>(), new List<double>());
            before?.BalanceFile(input, output, new BalanceOptions());
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

                // the same without the full-resolution decode overlapping the networks (LatentBalanceFilter)
                Environment.SetEnvironmentVariable("LATENTBALANCE_OVERLAP", "0");
                sw.Restart();
                engine.BalanceFile(input, output, new BalanceOptions());
                serial.Add(sw.Elapsed.TotalMilliseconds);
                Environment.SetEnvironmentVariable("LATENTBALANCE_OVERLAP", null);

                if (before != null)
                {
                    sw.Restart();
                    var b = before.BalanceFile(input, output, new BalanceOptions());
                    beforeTotal.Add(sw.Elapsed.TotalMilliseconds);
                    beforeEncode.Add(b.TimingsMs["encode"]);
                    beforeDecode.Add(b.TimingsMs["decode"]);
                }
            }
            if (before != null) beforeRows.Add((BenchImages.Median(beforeTotal), BenchImages.Median(beforeEncode), BenchImages.Median(beforeDecode)));
            var medians = stages.ToDictionary(kv => kv.Key, kv => BenchImages.Median(kv.Value));
            medians["(end to end without the overlapped decode)"] = BenchImages.Median(serial);
            rows.Add((name, BenchImages.Median(floor), BenchImages.Median(total), medians));
        }
        var stageNames = rows.SelectMany(r => r.Stages.Keys).Distinct().ToList();
        Console.WriteLine("| stage | " + string.Join(" | ", rows.Select(r => r.Name)) + " |");
        Console.WriteLine("|---|" + string.Concat(rows.Select(_ => "---:|")));
        Console.WriteLine("| libvips load + save alone (floor) | " + string.Join(" | ", rows.Select(r => $"{r.Floor:F0} ms")) + " |");
        Console.WriteLine("| balance end to end | " + string.Join(" | ", rows.Select(r => $"{r.Total:F0} ms")) + " |");
        foreach (var s in stageNames)
            Console.WriteLine($"| {s} | " + string.Join(" | ", rows.Select(r => r.Stages.TryGetValue(s, out var v) ? $"{v:F0} ms" : "-")) + " |");
        Console.WriteLine("| **ratio end to end / floor** (goal 2x) | " + string.Join(" | ", rows.Select(r => $"**{r.Total / r.Floor:F2}x**")) + " |");
        Console.WriteLine("| ratio without the overlapped decode | " + string.Join(" | ", rows.Select(r => $"{r.Stages["(end to end without the overlapped decode)"] / r.Floor:F2}x")) + " |");
        if (beforeRows.Count == rows.Count)
        {
            Console.WriteLine("| sessions as before (all cores each, the pair as one batch-2 Run): end to end | " + string.Join(" | ", beforeRows.Select(b => $"{b.Total:F0} ms")) + " |");
            Console.WriteLine("| ... its encode / decode | " + string.Join(" | ", beforeRows.Select(b => $"{b.Encode:F0} / {b.Decode:F0} ms")) + " |");
            Console.WriteLine("| ... its ratio end to end / floor | " + string.Join(" | ", rows.Zip(beforeRows, (r, b) => $"{b.Total / r.Floor:F2}x")) + " |");
            Console.WriteLine("| now / before: end to end, decode | " + string.Join(" | ", rows.Zip(beforeRows, (r, b) => $"{r.Total / b.Total:F2}, {r.Stages["decode"] / b.Decode:F2}")) + " |");
        }
        return Task.CompletedTask;
    }
}
