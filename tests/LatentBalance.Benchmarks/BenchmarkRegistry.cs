namespace LatentBalance.Benchmarks;

/// <summary>Further benchmarks (the daemon round trip) register here.</summary>
static partial class BenchmarkRegistry
{
    public static IEnumerable<KeyValuePair<string, Func<Task>>> Extra()
    {
        yield return new("daemon", DaemonBenchmark.RunAsync);
    }
}
