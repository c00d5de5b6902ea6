using System.Diagnostics;
using LatentBalance.Engine.Imaging;

namespace LatentBalance.Benchmarks;

/// <summary>
/// The full-resolution writer on its own: a 24 MP JPEG loaded and saved by libvips alone, next to
/// our reader + an identity transform + our writer in both modes (streamed, in-memory), at the same
/// quality, interleaved in one run. The ratio to libvips is what the writer adds to the floor.
/// </summary>
static class WriterBenchmark
{
    sealed class Identity : IPixelTransform
    {
        public void Apply(Span<byte> pixels, int bands) { }
        public void Apply(Span<ushort> pixels, int bands) { }
        public void Apply(Span<float> pixels, int bands) { }
    }

    public static Task RunAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), "latentbalance-bench");
        Directory.CreateDirectory(dir);
        var input = BenchImages.Jpeg24Mp(dir);
        var output = Path.Combine(dir, "writer-out.jpg");
        var source = PhotoReader.Open(input);
        var identity = new Identity();
        var modes = new[] { WriterMode.Streamed, WriterMode.InMemory }
            .ToDictionary(m => m, m => new PhotoWriter(new PhotoWriterOptions { JpegQuality = 95, Mode = m }));
        void Vips() => BenchImages.LibvipsLoadSave(input, output);

        Vips(); foreach (var w in modes.Values) w.Write(source, identity, output); // warm-up
        var floor = new List<double>();
        var ours = modes.Keys.ToDictionary(m => m, _ => new List<double>());
        for (int i = 0; i < 7; i++) // interleaved, so that load on the shared machine hits all alike
        {
            floor.Add(Time(Vips));
            foreach (var (m, w) in modes) ours[m].Add(Time(() => w.Write(source, identity, output)));
        }
        double f = BenchImages.Median(floor);
        Console.WriteLine($"input: 6000x4000 JPEG ({new FileInfo(input).Length / 1e6:F1} MB), 7 runs, medians, {Environment.ProcessorCount} cores");
        Console.WriteLine($"libvips load+save alone : {f,8:F0} ms");
        foreach (var (m, l) in ours)
            Console.WriteLine($"ours, {m,-18}: {BenchImages.Median(l),8:F0} ms  ratio {BenchImages.Median(l) / f:F2}x");
        return Task.CompletedTask;
    }

    static double Time(Action a)
    {
        var sw = Stopwatch.StartNew();
        a();
        return sw.Elapsed.TotalMilliseconds;
    }
}
