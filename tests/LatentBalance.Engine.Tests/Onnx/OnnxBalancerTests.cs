using LatentBalance.Engine.Balancer;
using LatentBalance.Engine.Imaging;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Vae;
using LatentBalance.Onnx;
using TorchSharp;
using Xunit.Abstractions;
using static LatentBalance.Engine.Tests.Onnx.OnnxTinyAutoencoderTests;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Tests.Onnx;

/// <summary>The balancer through ONNX Runtime against the engine's TorchSharp <see cref="BalancerNet"/>: the shipped pack's balancer
/// on real photos' TAEF2 latents, and other configs with random weights so that every branch of the graph is compared.</summary>
public class OnnxBalancerTests(ITestOutputHelper output)
{
    static string DefaultBalancer => Path.Combine(TestPaths.RepoRoot, "models", "default", "balancer");

    static float MaxAbs(float[] values) => values.Max(Math.Abs);

    [Fact]
    public void DefaultPackMatchesTorchSharpOnRealLatents()
    {
        string[] photos = ["100075.jpg", "100007.jpg"]; // with a warm cast
        using var vae = TinyAutoencoder.Load(TestPack.Taef2Config, Path.Combine(TestPaths.Taef2Dir, "taef2_encoder.pth"), Path.Combine(TestPaths.Taef2Dir, "taef2_decoder.pth"));
        var tiles = photos.Select(p =>
        {
            using var img = NetVips.Image.NewFromFile(Path.Combine(TestPaths.Photos, "bsds500", p));
            var tile = ThumbnailFit.FromImage(img);
            using var clean = torch.tensor(tile.Chw, [1, 3, tile.Size, tile.Size]);
            using var cast = tensor(new[] { 1.3f, 1f, 0.65f }).view(1, 3, 1, 1); // a warm cast, for the balancer to correct
            return (clean * cast).clamp(0f, 1f);
        }).ToList();
        using var batch = cat(tiles, 0);
        foreach (var t in tiles) t.Dispose();
        using var z = vae.Encode(batch); // [2, 32, 28, 28], a batch of two photos
        using var net = BalancerNet.Load(DefaultBalancer);
        var (balanced, strength) = net.BalanceWithStrength(z);
        using var _b = balanced;
        using var _s = strength;
        using var onnx = OnnxBalancer.Load(DefaultBalancer);
        var (onnxBalanced, onnxStrength) = onnx.BalanceWithStrength(FromTorch(z));

        var torchBalanced = FromTorch(balanced);
        float latentDiff = MaxAbsDiff(onnxBalanced, torchBalanced), moved = MaxAbsDiff(torchBalanced, FromTorch(z));
        var torchStrength = strength.data<float>().ToArray();
        float strengthDiff = torchStrength.Zip(onnxStrength, (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"default pack, {string.Join(", ", photos)}: balanced latent max |diff| {latentDiff:E2} (latent range ±{MaxAbs(torchBalanced.Data):F2}, balancing moved it up to {moved:F2}); " +
                         $"strength TorchSharp [{string.Join(", ", torchStrength.Select(s => s.ToString("F5")))}], max |diff| {strengthDiff:E2}");
        Assert.Equal([2L, 32, 28, 28], onnxBalanced.Shape);
        Assert.True(moved > 0.05, $"the balancer barely moved the latent ({moved}): the comparison would be weak");
        Assert.True(latentDiff < 2e-5, $"balanced latent max difference {latentDiff}");
        Assert.True(strengthDiff < 1e-6, $"strength max difference {strengthDiff}");
    }

    public static TheoryData<string, BalancerConfig, int, int> OtherConfigs => new()
    {
        {
            "quantiles, trunk_global, no downsample, no strength head",
            new BalancerConfig { LatentChannels = 4, Width = 16, Downsample = false, NumBlocks = 2, HeadBlocks = 2, HeadExpansion = 3,
                AttentionAfter = [0], AttentionHeads = 2, GlobalWidth = 24, GlobalQuantiles = [0f, 0.1f, 0.5f, 0.95f, 1f], TrunkGlobal = true },
            10, 12
        },
        {
            "downsample (odd size), strength head without colour statistics, no head blocks",
            new BalancerConfig { LatentChannels = 4, Width = 16, NumBlocks = 3, AttentionAfter = [0, 2], AttentionHeads = 4, GlobalWidth = 24,
                StrengthHead = 8, StrengthMax = 1.5f, StrengthScale = 1.3f },
            9, 7
        },
        {
            "downsample, quantiles, strength head with colour statistics",
            new BalancerConfig { LatentChannels = 6, Width = 16, NumBlocks = 2, HeadBlocks = 1, AttentionAfter = [1], AttentionHeads = 1, GlobalWidth = 16,
                GlobalQuantiles = [0.25f, 0.75f], StrengthHead = 8, StrengthColorStats = true },
            12, 10
        },
    };

    /// <summary>Every parameter and buffer perturbed with seeded noise (so the zero-initialised output layers, heads and
    /// probes are not zero), saved as a balancer folder, loaded both ways, run on a batch of two random latents.</summary>
    [Theory]
    [MemberData(nameof(OtherConfigs))]
    public void OtherConfigsMatchTorchSharp(string what, BalancerConfig config, int height, int width)
    {
        var dir = TestPaths.TempDir("onnx-balancer");
        manual_seed(7);
        using (var net = new BalancerNet(config))
        {
            using (no_grad())
                foreach (var (key, p) in net.state_dict())
                    p.add_(randn_like(p) * (key.StartsWith("strength.feature_std") ? 0.1f : 0.3f));
            if (net.Strength is { } head && config.StrengthColorStats)
            {
                // a read-out whose colours spread over (0, 1), so the clamp, the quantiles and the neutral share all have work
                using var w = randn(3, config.LatentChannels, 3, 3) * 0.05f;
                using var b = tensor(new[] { 0.5f, 0.45f, 0.55f });
                head.SetColorReadout(w, b);
            }
            net.Save(dir);
        }
        using var torchNet = BalancerNet.Load(dir);
        using var onnx = OnnxBalancer.Load(dir, threads: 1);
        using var z = randn(2, config.LatentChannels, height, width) * 1.5f;
        var (balanced, strength) = torchNet.BalanceWithStrength(z);
        using var _b = balanced;
        using var _s = strength;
        var (onnxBalanced, onnxStrength) = onnx.BalanceWithStrength(FromTorch(z));

        var torchBalanced = FromTorch(balanced);
        float latentDiff = MaxAbsDiff(onnxBalanced, torchBalanced) / MaxAbs(torchBalanced.Data);
        float moved = MaxAbsDiff(torchBalanced, FromTorch(z));
        var torchStrength = strength.data<float>().ToArray();
        float strengthDiff = torchStrength.Zip(onnxStrength, (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"{what}: latent {height}x{width}, max |diff| / max |value| {latentDiff:E2} (moved up to {moved:F2}); strength [{string.Join(", ", torchStrength.Select(s => s.ToString("F4")))}], max |diff| {strengthDiff:E2}");
        Assert.True(moved > 0.1, $"{what}: the random balancer barely moved the latent ({moved})");
        if (config.StrengthHead == 0) Assert.All(onnxStrength, s => Assert.Equal(1f, s));
        else Assert.True(torchStrength.Distinct().Count() == 2 && torchStrength.All(s => Math.Abs(s - 1) > 1e-3), $"{what}: strengths {string.Join(", ", torchStrength)} do not tell the head's path apart");
        Assert.True(latentDiff < 1e-5, $"{what}: balanced latent relative difference {latentDiff}");
        Assert.True(strengthDiff < 1e-6, $"{what}: strength difference {strengthDiff}");
    }

    public static TheoryData<string, string> BadWeights => new()
    {
        { "missing", "missing 1: conv_in.bias" },
        { "extra", "unexpected 1: extra.weight" },
        { "misshapen", "shape mismatch 1: norm_out.weight (file [3], model [16])" },
    };

    [Theory]
    [MemberData(nameof(BadWeights))]
    public void WeightsThatDoNotFitAreRefusedInOneLineNamingTheFile(string what, string expected)
    {
        var config = new BalancerConfig { LatentChannels = 4, Width = 16, NumBlocks = 1, AttentionAfter = [], GlobalWidth = 16 };
        var dir = TestPaths.TempDir("onnx-balancer-bad");
        using (var net = new BalancerNet(config)) net.Save(dir);
        var file = Path.Combine(dir, BalancerNet.WeightsFile);
        var weights = Pretrained.ReadWeights(file);
        switch (what)
        {
            case "missing": weights.Remove("conv_in.bias"); break;
            case "extra": weights["extra.weight"] = ones(2, 2); break;
            case "misshapen": weights["norm_out.weight"] = ones(3); break;
        }
        SafeTensors.Write(file, weights);
        foreach (var t in weights.Values) t.Dispose();

        var e = Assert.Throws<ModelFileException>(() => OnnxBalancer.Load(dir));
        output.WriteLine(e.Message);
        Assert.Equal($"{file}: weights do not fit the model; {expected}", e.Message);
        Assert.StartsWith($"{file}: weights do not fit the model; {expected}", Assert.Throws<ModelFileException>(() => BalancerNet.Load(dir)).Message); // as TorchSharp says it
    }
}
