using System.Diagnostics;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Engine.Tests.Imaging;
using LatentBalance.Engine.Tests.Pipeline;
using LatentBalance.Onnx;

namespace LatentBalance.Benchmarks;

/// <summary>
/// The long fuzz run (issue 13): the engine fuzz test's generator and checks at a larger count, through
/// the shipped pack. `fuzz [COUNT] [SEED]` (default 3000 cases, seed 1; the CI test uses seed 13, 300
/// cases). Prints the counts per outcome, per format and per mutation class, with timings, and each case
/// that broke a rule (as PROBLEM lines).
/// </summary>
static class FuzzBenchmark
{
    public static Task RunAsync()
    {
        var args = Environment.GetCommandLineArgs().SkipWhile(a => !a.Equals("fuzz", StringComparison.OrdinalIgnoreCase)).Skip(1).ToArray();
        int count = args.Length > 0 ? int.Parse(args[0]) : 3000;
        int seed = args.Length > 1 ? int.Parse(args[1]) : 1;
        var root = Path.Combine(Path.GetTempPath(), "latentbalance-bench", "fuzz-" + Environment.ProcessId);
        var inputs = Directory.CreateDirectory(Path.Combine(root, "in")).FullName;
        var outputs = Directory.CreateDirectory(Path.Combine(root, "out")).FullName;
        var bound = TimeSpan.FromSeconds(60);

        var sw = Stopwatch.StartNew();
        using var engine = EngineRuntime.Load();
        Console.WriteLine($"models loaded in {sw.Elapsed.TotalSeconds:F1} s; {count} cases, seed {seed}, bound {bound.TotalSeconds:F0} s each, {engine.Networks.Runtime} on {engine.Networks.Device}, {Environment.ProcessorCount} cores");
        var results = new List<FuzzResult>();
        sw.Restart();
        foreach (var c in ImageFuzzer.Generate(seed, count))
        {
            var r = FuzzRunner.Run(engine, c, inputs, outputs, bound);
            results.Add(r);
            if (r.Problem != null) Console.WriteLine("PROBLEM " + r);
            if (r.Outcome == "hang") break;
            if (results.Count % 250 == 0) Console.WriteLine($"  ... {results.Count} cases, {sw.Elapsed.TotalSeconds:F0} s");
        }
        Console.WriteLine($"wall {sw.Elapsed.TotalSeconds:F1} s");
        foreach (var line in FuzzRunner.Summary(results)) Console.WriteLine(line);
        Directory.Delete(root, recursive: true);
        return Task.CompletedTask;
    }
}
