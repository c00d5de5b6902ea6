using System.Diagnostics;
using LatentBalance.Engine.Color;
using Xunit.Abstractions;

namespace LatentBalance.Engine.Tests.Color;

/// <summary>Single-thread throughput of <see cref="LutTransform"/>; numbers go to the test output
/// (run with <c>--logger "console;verbosity=detailed"</c> to see them; use -c Release for real numbers).
/// Two inputs: a real photo tiled to 4 Mpx (coherent colours, the realistic case) and uniform random
/// pixels (worst case for cache and branch prediction).</summary>
public class LutTransformBenchmarkTests(ITestOutputHelper output)
{
#if DEBUG
    const int Pixels = 1_000_000; // Debug builds are ~10x slower and not representative: keep the test short
    const string Build = "Debug build, not representative";
    static readonly LutInterpolation[] Modes = [LutInterpolation.Trilinear];
    const int Runs = 2;
#else
    static readonly LutInterpolation[] Modes = [LutInterpolation.Trilinear, LutInterpolation.Tetrahedral];
    const int Runs = 5;
    const int Pixels = 4_000_000;
    const string Build = "Release";
#endif

    [Fact]
    public void ReportsSingleThreadThroughput()
    {
        var lut = CubeFile.Read(Path.Combine(TestPaths.ArtisticLuts, "LUT_BROWN__Era.cube"));
        var rnd = new Random(1);
        var random = new byte[Pixels * 3]; rnd.NextBytes(random);
        var photo = TiledPhoto(Path.Combine(TestPaths.Photos, "debian-skimage-data", "astronaut.jpg"));

        foreach (var (name, src) in new[] { ("photo", photo), ("random", random) })
        {
            var rgba = new byte[Pixels * 4];
            for (int i = 0; i < Pixels; i++) { rgba[i * 4] = src[i * 3]; rgba[i * 4 + 1] = src[i * 3 + 1]; rgba[i * 4 + 2] = src[i * 3 + 2]; rgba[i * 4 + 3] = 255; }
            var u16 = src.Select(v => (ushort)(v * 257 + (v & 0x7f))).ToArray();
            var f32 = src.Select(v => v / 255f).ToArray();
            foreach (var mode in Modes)
            {
                var t = new LutTransform(lut, 0.8f, mode);
                double m8 = Measure(src, w => t.Apply(w, 3));
                double m8a = Measure(rgba, w => t.Apply(w, 4));
                double m16 = Measure(u16, w => t.Apply(w, 3));
                double mf = Measure(f32, w => t.Apply(w, 3));
                output.WriteLine($"LutTransform {mode,-11} 33^3 {name,-6} 1 thread ({Build}, CPU time): 8-bit RGB {m8,6:F1} Mpx/s | 8-bit RGBA {m8a,6:F1} | 16-bit {m16,6:F1} | float {mf,6:F1}; 24 Mpx 8-bit RGB = {24 / m8 * 1000:F0} ms");
                Assert.True(m8 > 1, "implausibly slow");
            }
        }
    }

    static byte[] TiledPhoto(string path)
    {
        using var img = NetVips.Image.NewFromFile(path, access: NetVips.Enums.Access.Sequential);
        using var rgb = img.Bands >= 3 ? img.ExtractBand(0, 3) : img.Bandjoin(img, img);
        var bytes = rgb.WriteToMemory();
        var dst = new byte[Pixels * 3];
        for (int o = 0; o < dst.Length; o += bytes.Length) Array.Copy(bytes, 0, dst, o, Math.Min(bytes.Length, dst.Length - o));
        return dst;
    }

    /// <summary>Best of the last 3 runs (Release: after 2 warm-ups), each on a fresh copy of the input.
    /// Timed by process CPU time (the loop is single-threaded), so that other load on the shared
    /// 2-core machine does not count; wall time would include time spent descheduled.</summary>
    static double Measure<T>(T[] src, Action<T[]> apply)
    {
        var work = new T[src.Length];
        var proc = Process.GetCurrentProcess();
        double best = double.MaxValue;
        for (int k = 0; k < Runs; k++)
        {
            Array.Copy(src, work, src.Length);
            proc.Refresh();
            var cpu0 = proc.TotalProcessorTime;
            apply(work);
            proc.Refresh();
            if (k >= Runs - 3) best = Math.Min(best, (proc.TotalProcessorTime - cpu0).TotalSeconds);
        }
        return Pixels / Math.Max(best, 1e-4) / 1e6;
    }
}
