using System.Diagnostics;
using LatentBalance.Engine.Color;
using LatentBalance.Engine.Imaging;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Training.Distortions;
using NetVips;
using static TorchSharp.torch;
using LatentBalance.Onnx;

namespace LatentBalance.Benchmarks;

/// <summary>
/// Step 5 alone: the per-photo colour-map fit's time and how well its baked LUT reproduces its target (CIEDE2000
/// between the LUT applied to the distorted decode and the balanced decode, over the photo's pixels), on the real
/// decodes of distorted photos through the default pack. Rows: the TorchSharp Adam MLP the engine shipped until
/// 2026-12-01 (<see cref="TorchFitReference"/>, the first row and the reference of the ratios) and settings of
/// <see cref="ColorMapFitter"/> (fixed random SiLU units, closed-form ridge output layer). "identity" is the largest
/// CIEDE2000 on the whole 33^3 cube when a decode is fitted to itself (a good map changes nothing there).
/// Usage: <c>--bench=fit [photos]</c> (default 16).
/// </summary>
static class FitBenchmark
{
    sealed record Case(float[] Src, float[] Dst, bool[] Mask, int Size);

    public static Task RunAsync() => RunAsync(16);

    public static Task RunAsync(int count)
    {
        var cases = Cases(count);
        Console.WriteLine($"{cases.Count} distorted photos (bsds500) through the default pack; fit ms is the median, dE00 the mean over photos, worst the worst photo's mean");
        Console.WriteLine("| fit | fit ms | dE00 LUT vs target | worst photo | identity max dE00 | time / reference |");
        Console.WriteLine("|---|---|---|---|---|---|");
        double? refMs = null;
        void Row(string name, Func<Case, Lut3D> fitLut)
        {
            fitLut(cases[0]); // warm-up
            var times = new List<double>();
            var des = new List<double>();
            foreach (var c in cases)
            {
                var sw = Stopwatch.StartNew();
                var lut = fitLut(c);
                times.Add(sw.Elapsed.TotalMilliseconds);
                des.Add(MaskedDeltaE(lut, c));
            }
            var self = cases[0] with { Dst = cases[0].Src };
            double identity = MaxDeltaE(fitLut(self), Lut3D.Identity(LutBaker.DefaultSize));
            double ms = BenchImages.Median(times);
            refMs ??= ms;
            Console.WriteLine($"| {name} | {ms:F1} | {des.Average():F3} | {des.Max():F2} | {identity:F2} | {ms / refMs:F3} |");
        }

        var reference = new TorchFitOptions();
        Row($"TorchSharp MLP, Adam {reference.Steps} steps x {reference.BatchSize} (until 2026-12-01)", c =>
        {
            using var scope = NewDisposeScope();
            using var mlp = TorchFitReference.Fit(tensor(c.Src, [3, c.Size, c.Size]), tensor(c.Dst, [3, c.Size, c.Size]), tensor(c.Mask, [c.Size, c.Size]), reference);
            return TorchLut(mlp);
        });
        var shipped = new ColorMapFitOptions();
        var variants = new List<ColorMapFitOptions>
        {
            shipped,
            shipped with { Hidden = 32 },
            shipped with { Hidden = 96 },
            shipped with { Scale = 1 },
            shipped with { Scale = 4 },
            shipped with { Ridge = 1e-4 },
            shipped with { Ridge = 1e-2 },
            shipped with { Samples = 4096 },
            shipped with { Samples = 16384 },
        };
        foreach (var v in variants)
            Row($"random SiLU + ridge: {v.Hidden} units, scale {v.Scale:G3}, ridge {v.Ridge:G3}, {v.Samples} px{(v == shipped ? " (shipped)" : "")}",
                c => LutBaker.Bake([ColorMapFitter.Fit(c.Src, c.Dst, c.Mask, v)]));
        return Task.CompletedTask;
    }

    static Lut3D TorchLut(TorchFitMlp mlp)
    {
        using var _ = no_grad();
        var grid = Lut3D.Identity(LutBaker.DefaultSize).Data;
        var y = mlp.forward(tensor(grid, [grid.Length / 3, 3])).clamp(0, 1).contiguous().data<float>().ToArray();
        return new Lut3D(LutBaker.DefaultSize, y);
    }

    static List<Case> Cases(int count)
    {
        using var engine = EngineRuntime.Load(runtime: EngineRuntime.Torch);
        var nets = (TorchNetworks)engine.Networks;
        var photos = Directory.GetFiles(Path.Combine(BenchImages.SharedPhotos(), "bsds500")).Order().Take(count).ToList();
        var generator = new DistortionGenerator();
        var cases = new List<Case>();
        using (no_grad())
            for (int i = 0; i < photos.Count; i++)
            {
                using var scope = NewDisposeScope();
                using var img = Image.NewFromFile(photos[i]);
                var tile = ThumbnailFit.FromImage(img);
                var x = tile.ToTensor(nets.TorchDevice);
                var (d, _) = generator.Distort(x[0], 500 + i);
                var z = nets.Vae.Encode(d.unsqueeze(0));
                var dec = nets.Vae.Decode(cat([z, nets.Balancer.Balance(z)], 0)).clamp(0, 1).cpu();
                cases.Add(new Case(dec[0].contiguous().data<float>().ToArray(), dec[1].contiguous().data<float>().ToArray(), tile.Mask, tile.Size));
            }
        return cases;
    }

    /// <summary>Mean CIEDE2000 over the photo's pixels between the LUT applied to the source and the target.</summary>
    static double MaskedDeltaE(Lut3D lut, Case c)
    {
        int n = c.Size * c.Size;
        var a = new List<float>();
        var b = new List<float>();
        for (int p = 0; p < n; p++)
        {
            if (!c.Mask[p]) continue;
            for (int ch = 0; ch < 3; ch++) { a.Add(c.Src[ch * n + p]); b.Add(c.Dst[ch * n + p]); }
        }
        var mapped = a.ToArray();
        new LutTransform(lut).Apply(mapped.AsSpan(), 3);
        return Ciede2000.Mean(mapped, b.ToArray());
    }

    static double MaxDeltaE(Lut3D a, Lut3D b) => Ciede2000.Stats(a.Data, b.Data).Max;
}
