namespace LatentBalance.Benchmarks;

/// <summary>Further benchmarks (the daemon round trip, the colour-map fit) register here.</summary>
static partial class BenchmarkRegistry
{
    public static IEnumerable<KeyValuePair<string, Func<Task>>> Extra()
    {
        yield return new("daemon", DaemonBenchmark.RunAsync);
        yield return new("fit", FitBenchmark.RunAsync);
    }
}
