namespace LatentBalance.Benchmarks;

/// <summary>Further benchmarks (the full-resolution writer, the daemon round trip, the colour-map fit, the Scalar-lifetime diagnostic, the long fuzz run, the daemon soak, TAEF2 through ONNX Runtime against TorchSharp, a 12 MP batch against darktable-cli and GIMP, the Orleans cluster) register here.</summary>
static partial class BenchmarkRegistry
{
    public static IEnumerable<KeyValuePair<string, Func<Task>>> Extra()
    {
        yield return new("writer", WriterBenchmark.RunAsync);
        yield return new("daemon", DaemonBenchmark.RunAsync);
        yield return new("fit", FitBenchmark.RunAsync);
        yield return new("scalar-race", ScalarRaceBenchmark.RunAsync);
        yield return new("fuzz", FuzzBenchmark.RunAsync);
        yield return new("soak", SoakBenchmark.RunAsync);
        yield return new("onnx", OnnxBenchmark.RunAsync);
        yield return new("ort", OrtBenchmark.RunAsync);
        yield return new("batch", BatchBenchmark.RunAsync);
        yield return new("cluster", ClusterBenchmark.RunAsync);
    }
}
