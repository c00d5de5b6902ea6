using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Vae;
using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Tests.Vae;

public class TinyAutoencoderTests
{
    static string EncoderPth => Path.Combine(TestPaths.Taef2Dir, "taef2_encoder.pth");
    static string DecoderPth => Path.Combine(TestPaths.Taef2Dir, "taef2_decoder.pth");

    /// <summary>The shipped pack's TAEF2 config (models/default/vae/config.json), read as the pack reads it.</summary>
    static TinyAutoencoderConfig Taef2 => Pretrained.ReadConfig<TinyAutoencoderConfig>(TestPack.Taef2Config);

    /// <summary>TAESD (SD 1.x/2.x; TAESDXL has the same shape): 4 channels, no pool mid-blocks.</summary>
    static readonly TinyAutoencoderConfig Taesd = new() { Name = "taesd", LatentChannels = 4, DeepestStagePool = false };

    [Fact]
    public void TheShippedTaef2ConfigHasTheDocumentedShape()
    {
        var f2 = Taef2;
        Assert.Equal(("taef2", 32, true, 8), (f2.Name, f2.LatentChannels, f2.DeepestStagePool, f2.DownscaleFactor));
        Assert.Equal([1, 3, 3, 3], f2.EncoderBlocks);
        Assert.Equal([3, 3, 3, 1], f2.DecoderBlocks);
        Assert.Equal(("taesd", 4, false, true), (Taesd.Name, Taesd.LatentChannels, Taesd.DeepestStagePool, Taesd.DecoderClamp));
    }

    [Fact]
    public void ConfigRoundTripsThroughJson()
    {
        var custom = Taesd with { Name = "custom", EncoderBlocks = [1, 2, 3], DecoderBlocks = [3, 2, 1], ClampMagnitude = 2.5 };
        var json = Pretrained.ToJson(custom);
        Assert.Contains("\"latent_channels\": 4", json);
        Assert.Equal(custom, Pretrained.ParseConfig<TinyAutoencoderConfig>(json, "custom.json"));
        Assert.Equal(4, Pretrained.ParseConfig<TinyAutoencoderConfig>(json, "custom.json").DownscaleFactor);
        Assert.Equal(Taef2, Pretrained.ParseConfig<TinyAutoencoderConfig>(Pretrained.ToJson(Taef2), "taef2.json"));
        Assert.NotEqual(Taef2, Taesd);
    }

    const string Named = "\"name\": \"t\", \"latent_channels\": 4, \"deepest_stage_pool\": false";

    [Theory]
    [InlineData("{\"name\": \"t\", \"latent_channels\": 0, \"deepest_stage_pool\": false}", "positive")]
    [InlineData("{" + Named + ", \"encoder_blocks\": [1,3], \"decoder_blocks\": [3,3,1]}", "as many stages")]
    [InlineData("{" + Named + ", \"pool_groups\": 7}", "pool_groups")]
    [InlineData("{" + Named + ", \"latentChannels\": 4}", "'latentChannels' could not be mapped")]
    [InlineData("{\"latent_channels\": 4, \"deepest_stage_pool\": false}", "missing required properties including: 'name'")]
    [InlineData("{\"latent_channels\": ", "invalid config")]
    public void BadConfigJsonIsRefused(string json, string expected)
    {
        var e = Assert.Throws<ModelFileException>(() => Pretrained.ParseConfig<TinyAutoencoderConfig>(json, "cfg.json"));
        Assert.Contains("cfg.json", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Taef2LoadsStrictlyAndReportsItsShape()
    {
        using var vae = TinyAutoencoder.Load(Taef2, EncoderPth, DecoderPth);
        Assert.Equal(("taef2", 32, 8, false), (vae.Name, vae.LatentChannels, vae.DownscaleFactor, vae.IsProbabilistic));
        using var image = torch.rand(2, 3, 64, 96);
        var (mean, logVar) = vae.EncodeDistribution(image);
        using (mean)
        {
            Assert.Null(logVar);
            Assert.Equal([2L, 32, 8, 12], mean.shape);
            using var decoded = vae.Decode(mean);
            Assert.Equal([2L, 3, 64, 96], decoded.shape);
            Assert.Equal(ScalarType.Float32, decoded.dtype);
            Assert.False(decoded.requires_grad);
        }
    }

    [Fact]
    public void LoadingTaef2WeightsIntoTaesdShapeListsTheProblems()
    {
        // TAESD has 4 latent channels and no pool blocks: the TAEF2 files have unexpected keys and wrong shapes.
        var e = Assert.Throws<ModelFileException>(() => TinyAutoencoder.Load(Taesd, EncoderPth, DecoderPth));
        Assert.Contains(EncoderPth, e.Message);
        Assert.Contains("unexpected 12", e.Message);
        Assert.Contains("11.pool.0.weight", e.Message);
        Assert.Contains("shape mismatch 2: ", e.Message);
        Assert.Contains("14.bias (file [32], model [4])", e.Message);
        Assert.Contains("14.weight (file [32,64,3,3], model [4,64,3,3])", e.Message);
    }

    [Fact]
    public void MissingKeysAreListed()
    {
        var enc = Pretrained.ReadWeights(EncoderPth);
        var dec = Pretrained.ReadWeights(DecoderPth);
        try
        {
            enc.Remove("7.conv.2.bias", out var removed);
            removed!.Dispose();
            var e = Assert.Throws<ModelFileException>(() => TinyAutoencoder.Load(Taef2, enc, dec, "enc.pth", "dec.pth"));
            Assert.Contains("enc.pth", e.Message);
            Assert.Contains("missing 1: 7.conv.2.bias", e.Message);

            using var nan = torch.full(dec["19.bias"].shape, float.NaN);
            var bad = new Dictionary<string, Tensor>(dec) { ["19.bias"] = nan };
            var enc2 = Pretrained.ReadWeights(EncoderPth);
            try
            {
                var e2 = Assert.Throws<ModelFileException>(() => TinyAutoencoder.Load(Taef2, enc2, bad, "enc.pth", "dec.pth"));
                Assert.Contains("dec.pth: '19.bias' holds NaN", e2.Message);
            }
            finally { foreach (var t in enc2.Values) t.Dispose(); }
        }
        finally
        {
            foreach (var t in enc.Values) t.Dispose();
            foreach (var t in dec.Values) t.Dispose();
        }
    }

    [Fact]
    public void UnsupportedExtensionAndBadInputsAreClearErrors()
    {
        var e = Assert.Throws<ModelFileException>(() => TinyAutoencoder.Load(Taef2, "weights.onnx", DecoderPth));
        Assert.Contains("weights.onnx", e.Message);

        using var vae = TinyAutoencoder.Load(Taef2, EncoderPth, DecoderPth);
        using var odd = torch.rand(1, 3, 30, 32);
        Assert.Contains("multiples of 8", Assert.Throws<ArgumentException>(() => vae.Encode(odd)).Message);
        using var gray = torch.rand(1, 1, 32, 32);
        Assert.Throws<ArgumentException>(() => vae.Encode(gray));
        using var wrongLatent = torch.rand(1, 4, 4, 4);
        Assert.Throws<ArgumentException>(() => vae.Decode(wrongLatent));
    }

    [Fact]
    public void TaesdShapeBuildsWithMatchingStateDict()
    {
        // No TAESD weights are shipped: build a state dict of the right names and shapes to check the module layout.
        var keys = TaesdEncoderShapes();
        var enc = keys.ToDictionary(kv => kv.Key, kv => torch.zeros(kv.Value));
        var decKeys = TaesdDecoderShapes();
        var dec = decKeys.ToDictionary(kv => kv.Key, kv => torch.zeros(kv.Value));
        try
        {
            using var vae = TinyAutoencoder.Load(Taesd, enc, dec);
            using var z = vae.Encode(torch.rand(1, 3, 16, 16));
            Assert.Equal([1L, 4, 2, 2], z.shape);
            using var x = vae.Decode(z);
            Assert.Equal([1L, 3, 16, 16], x.shape);
        }
        finally
        {
            foreach (var t in enc.Values) t.Dispose();
            foreach (var t in dec.Values) t.Dispose();
        }
    }

    static Dictionary<string, long[]> BlockShapes(int i) => new()
    {
        [$"{i}.conv.0.weight"] = [64, 64, 3, 3], [$"{i}.conv.0.bias"] = [64],
        [$"{i}.conv.2.weight"] = [64, 64, 3, 3], [$"{i}.conv.2.bias"] = [64],
        [$"{i}.conv.4.weight"] = [64, 64, 3, 3], [$"{i}.conv.4.bias"] = [64],
    };

    static Dictionary<string, long[]> TaesdEncoderShapes()
    {
        var d = new Dictionary<string, long[]> { ["0.weight"] = [64, 3, 3, 3], ["0.bias"] = [64], ["14.weight"] = [4, 64, 3, 3], ["14.bias"] = [4] };
        foreach (int i in new[] { 2, 6, 10 }) d[$"{i}.weight"] = [64, 64, 3, 3];
        foreach (int i in new[] { 1, 3, 4, 5, 7, 8, 9, 11, 12, 13 }) foreach (var kv in BlockShapes(i)) d[kv.Key] = kv.Value;
        return d;
    }

    static Dictionary<string, long[]> TaesdDecoderShapes()
    {
        var d = new Dictionary<string, long[]> { ["1.weight"] = [64, 4, 3, 3], ["1.bias"] = [64], ["19.weight"] = [3, 64, 3, 3], ["19.bias"] = [3] };
        foreach (int i in new[] { 7, 12, 17 }) d[$"{i}.weight"] = [64, 64, 3, 3];
        foreach (int i in new[] { 3, 4, 5, 8, 9, 10, 13, 14, 15, 18 }) foreach (var kv in BlockShapes(i)) d[kv.Key] = kv.Value;
        return d;
    }
}
