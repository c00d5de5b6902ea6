using LatentBalance.Engine.Balancer;
using LatentBalance.Engine.Imaging;
using LatentBalance.Training;
using LatentBalance.Training.Distortions;
using NetVips;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Tests.Training;

/// <summary>The colour read-out of TAEF2 latents, fitted on real decodes, and the trainer's colour term.</summary>
public class ColorProbeTests(ITestOutputHelper output)
{
    [Fact]
    public void ReadOutPredictsPatchColoursAndDrivesTheColourTerm()
    {
        using var vae = TestPack.Taef2();
        var photos = Directory.GetFiles(Path.Combine(TestPaths.Photos, "mcmaster18")).Order(StringComparer.Ordinal).Take(8).ToList();
        var generator = new DistortionGenerator();
        using var scope = NewDisposeScope();
        Tensor clean, distorted;
        using (no_grad())
        {
            var tiles = stack(photos.Select(p =>
            {
                using var img = Image.NewFromFile(p);
                var t = ThumbnailFit.FromImage(img);
                return tensor(t.Chw, [3, 224, 224]);
            }));
            clean = vae.Encode(tiles);
            distorted = vae.Encode(stack(Enumerable.Range(0, photos.Count).Select(i => generator.Distort(tiles[i], 40 + i).Distorted)));
        }

        using var probe = ColorProbe.Fit(vae, clean[..4], batch: 2);
        output.WriteLine($"R2 on its own latents {probe.R2:F3}");
        Assert.True(probe.R2 > 0.8, $"R2 {probe.R2}");
        // on latents it has not seen: the read-out of a decode's patches
        using (no_grad())
        {
            var held = clean[4..];
            var truth = nn.functional.avg_pool2d(vae.Decode(held).clamp(0, 1), 8);
            var pred = probe.Apply(held);
            double r2 = 1 - (pred - truth).square().sum().item<float>() / (truth - truth.mean([0, 2, 3], keepdim: true)).square().sum().item<float>();
            output.WriteLine($"R2 on held-out latents {r2:F3}");
            Assert.True(r2 > 0.75, $"held-out R2 {r2}");
        }

        var path = Path.Combine(TestPaths.TempDir("probe"), "color_probe.safetensors");
        probe.Save(path);
        using (var loaded = ColorProbe.Load(path))
        {
            Assert.Equal(probe.R2, loaded.R2, 5);
            Assert.True((loaded.Apply(clean) - probe.Apply(clean)).abs().max().item<float>() < 1e-6f);
        }

        // the trainer's colour term: recorded per epoch, and training with it lowers the colour error
        using var pairs = new LatentPairs(distorted, clean);
        var config = new BalancerConfig { Width = 32, NumBlocks = 2, AttentionAfter = [1], AttentionHeads = 2, GlobalWidth = 32, HeadBlocks = 1 };
        var recipe = new TrainingRecipe { OutDir = TestPaths.TempDir("probe-fit"), Epochs = 6, BatchSize = 4, LearningRate = 2e-3, IdentityFraction = 0, ColorWeight = 10 };
        var trainer = new BalancerTrainer();
        manual_seed(6);
        using var net = trainer.Train(pairs, pairs, config, recipe, probe);
        double before = BalancerTrainer.IdentityColorMse(pairs, probe);
        double after = BalancerTrainer.Measure(net, pairs, 4, probe: probe).ColorMse!.Value;
        output.WriteLine($"colour MSE: doing nothing {before:F5}, trained {after:F5}");
        Assert.All(trainer.History, h => Assert.NotNull(h.ValidationColorMse));
        Assert.True(after < before * 0.95, $"colour MSE {before} -> {after}");
        Assert.Throws<ArgumentException>(() => new BalancerTrainer().Train(pairs, null, config, recipe with { Epochs = 1, ColorWeight = 1 }));
    }
}
