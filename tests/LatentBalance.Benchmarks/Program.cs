using LatentBalance.Benchmarks;

// Benchmarks are not tests: they print times and ratios measured in one run (the machine is shared
// and noisy, so only ratios within a run mean much). `dotnet cake --target=benchmark [--bench=engine]`.
var which = args.Length > 0 ? args[0] : "all";
var benches = new Dictionary<string, Func<Task>>(StringComparer.OrdinalIgnoreCase)
{
    ["engine"] = EngineBenchmark.RunAsync,
};
foreach (var extra in BenchmarkRegistry.Extra()) benches[extra.Key] = extra.Value;
if (which != "all" && !benches.ContainsKey(which))
{
    Console.Error.WriteLine($"unknown benchmark '{which}': {string.Join(", ", benches.Keys)} or all");
    return 2;
}
foreach (var (name, run) in benches)
    if (which == "all" || which.Equals(name, StringComparison.OrdinalIgnoreCase))
    {
        Console.WriteLine($"== {name}");
        await run();
    }
return 0;
