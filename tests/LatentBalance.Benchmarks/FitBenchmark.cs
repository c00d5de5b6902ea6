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
/// Step 5 alone (the per-image colour-map fit was the slowest stage of the engine benchmark):
/// the fit's time and how well the baked LUT reproduces its target (mean CIEDE2000 between the
/// corrected distorted decode and the balanced decode, over the photo's pixels) for several step
/// counts and minibatch sizes, on the real decodes of distorted photos through the default pack.
/// </summary>
static class FitBenchmark
{
    public static Task RunAsync()
    {
        using var engine = EngineRuntime.Load(runtime: EngineRuntime.Torch);
        var nets = (TorchNetworks)engine.Networks;
        var photos = Directory.GetFiles(Path.Combine(BenchImages.SharedPhotos(), "bsds500")).Order().Take(8).ToList();
        var generator = new DistortionGenerator();
        var cases = new List<(Tensor Src, Tensor Dst, Tensor Mask)>();
        using (no_grad())
            for (int i = 0; i < photos.Count; i++)
            {
                using var img = Image.NewFromFile(photos[i]);
                var tile = ThumbnailFit.FromImage(img);
                var x = tile.ToTensor(nets.TorchDevice);
                var (d, _) = generator.Distort(x[0], 500 + i);
                var z = nets.Vae.Encode(d.unsqueeze(0));
                var dec = nets.Vae.Decode(cat([z, nets.Balancer.Balance(z)], 0)).clamp(0, 1);
                cases.Add((dec[0], dec[1], tile.MaskTensor(nets.TorchDevice).reshape(tile.Size, tile.Size)));
            }

        // the first row is the reference (the setting before the defaults were measured here)
        var baseline = new ColorMapFitOptions { Steps = 300, BatchSize = 4096, LearningRate = 5e-3 };
        var variants = new List<ColorMapFitOptions>
        {
            baseline,
            baseline with { Steps = 150 },
            baseline with { Steps = 100, LearningRate = 1e-2 },
            baseline with { Steps = 150, BatchSize = 2048 },
            baseline with { Steps = 300, BatchSize = 1024 },
            new ColorMapFitOptions(), // the defaults
            baseline with { Steps = 60, BatchSize = 2048, LearningRate = 1e-2 },
        };
        Console.WriteLine($"{cases.Count} distorted photos through the default pack; fit time is the median, dE00 the mean over photos");
        Console.WriteLine("| steps | batch | lr | fit ms | dE00 LUT vs target | ratio of baseline time |");
        Console.WriteLine("|---|---|---|---|---|---|");
        double? baseMs = null;
        foreach (var v in variants)
        {
            ColorMapFitter.Fit(cases[0].Src, cases[0].Dst, cases[0].Mask, v).Dispose(); // warm-up
            var times = new List<double>();
            var des = new List<double>();
            foreach (var (src, dst, mask) in cases)
            {
                var sw = Stopwatch.StartNew();
                using var mlp = ColorMapFitter.Fit(src, dst, mask, v);
                times.Add(sw.Elapsed.TotalMilliseconds);
                var lut = LutBaker.Bake([mlp]);
                using var scope = NewDisposeScope();
                des.Add(Ciede2000.Mean(LutTransform.ApplyToTensor(lut, src.unsqueeze(0))[0], dst, mask));
            }
            double ms = BenchImages.Median(times);
            baseMs ??= ms;
            Console.WriteLine($"| {v.Steps} | {v.BatchSize} | {v.LearningRate:G3} | {ms:F0} | {des.Average():F3} | {ms / baseMs:F2} |");
        }
        return Task.CompletedTask;
    }
}
