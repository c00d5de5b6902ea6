using System.Text.Json;
using LatentBalance.Engine.Imaging;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Vae;
using LatentBalance.Onnx;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Tests.Onnx;

/// <summary>The diffusers AutoencoderKL through ONNX Runtime against the engine's TorchSharp <see cref="AutoencoderKL"/>:
/// seeded random weights written as a diffusers folder, a real photo's tile in, several configs.</summary>
public class OnnxAutoencoderKLTests(ITestOutputHelper output)
{
    static readonly AutoencoderKLConfig Small = new()
    {
        BlockOutChannels = [32, 64], LayersPerBlock = 1, NormNumGroups = 8, LatentChannels = 4, Name = "small-kl",
    };

    /// <summary>No mid-block attention, no quant convs, three blocks of two layers, a shifted scale (as FLUX's VAE), 16 latent channels.</summary>
    static readonly AutoencoderKLConfig Plain = new()
    {
        BlockOutChannels = [16, 32, 32], LayersPerBlock = 2, NormNumGroups = 8, LatentChannels = 16, MidBlockAddAttention = false,
        UseQuantConv = false, UsePostQuantConv = false, ScalingFactor = 0.3611, ShiftFactor = 0.1159, Name = "plain-kl",
    };

    public static TheoryData<string> Configs => ["small", "plain", "small, legacy attention names"];

    static AutoencoderKLConfig ConfigOf(string what) => what.StartsWith("plain") ? Plain : Small;

    /// <summary>Weights for every parameter the config has, realistic scales (norms near 1, convs ~ 1/√fan-in), seeded.</summary>
    static Dictionary<string, Tensor> RandomWeights(AutoencoderKLConfig c, ulong seed)
    {
        var g = new Generator(seed);
        var w = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (k, shape) in AutoencoderKL.ExpectedParameters(c).OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            bool norm = k.Contains("norm") && !k.Contains("conv_");
            w[k] = norm ? (k.EndsWith(".weight") ? 1 + 0.1 * randn(shape, generator: g) : 0.1 * randn(shape, generator: g))
                : k.EndsWith(".bias") ? 0.05 * randn(shape, generator: g)
                : randn(shape, generator: g) / Math.Sqrt(shape.Skip(1).Aggregate(1L, (a, x) => a * x));
        }
        return w;
    }

    /// <summary>Older diffusers names (query/key/value/proj_attn) with the linear weights as 1×1 conv weights.</summary>
    static Dictionary<string, Tensor> Legacy(Dictionary<string, Tensor> w) => w.ToDictionary(kv =>
        kv.Key.Replace(".to_q.", ".query.").Replace(".to_k.", ".key.").Replace(".to_v.", ".value.").Replace(".to_out.0.", ".proj_attn."),
        kv => kv.Key.Contains(".attentions.") && kv.Value.dim() == 2 ? kv.Value.view(kv.Value.shape[0], kv.Value.shape[1], 1, 1) : kv.Value,
        StringComparer.Ordinal);

    /// <summary>A diffusers folder (config.json + diffusion_pytorch_model.safetensors) under <c>vae/</c>; returns the root.</summary>
    static string WriteFolder(AutoencoderKLConfig c, Dictionary<string, Tensor> weights)
    {
        var root = TestPaths.TempDir("onnx-kl");
        var dir = Path.Combine(root, "vae");
        Directory.CreateDirectory(dir);
        var config = new Dictionary<string, object?>
        {
            ["_class_name"] = "AutoencoderKL", ["block_out_channels"] = c.BlockOutChannels, ["layers_per_block"] = c.LayersPerBlock,
            ["norm_num_groups"] = c.NormNumGroups, ["latent_channels"] = c.LatentChannels, ["mid_block_add_attention"] = c.MidBlockAddAttention,
            ["use_quant_conv"] = c.UseQuantConv, ["use_post_quant_conv"] = c.UsePostQuantConv, ["scaling_factor"] = c.ScalingFactor,
            ["shift_factor"] = c.ShiftFactor, ["name"] = c.Name,
        };
        File.WriteAllText(Path.Combine(dir, AutoencoderKL.ConfigFileName), JsonSerializer.Serialize(config));
        SafeTensors.Write(Path.Combine(dir, AutoencoderKL.WeightsFileName), weights);
        return root;
    }

    static NchwTensor FromTorch(Tensor t)
    {
        using var c = t.to_type(ScalarType.Float32).contiguous();
        return new(c.data<float>().ToArray(), (int)t.shape[0], (int)t.shape[1], (int)t.shape[2], (int)t.shape[3]);
    }

    /// <summary>Largest |a - b| over the largest |b|.</summary>
    static double RelMaxDiff(NchwTensor a, NchwTensor b)
    {
        Assert.Equal(b.Shape, a.Shape);
        double diff = 0, max = 0;
        for (int i = 0; i < b.Data.Length; i++) (diff, max) = (Math.Max(diff, Math.Abs(a.Data[i] - b.Data[i])), Math.Max(max, Math.Abs(b.Data[i])));
        return diff / max;
    }

    static ModelTile PhotoTile(int size)
    {
        using var img = NetVips.Image.NewFromFile(Path.Combine(TestPaths.Photos, "bsds500", "100075.jpg"));
        return ThumbnailFit.FromImage(img, new ThumbnailFitOptions { Size = size });
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void AgreesWithTorchSharpOnAPhotoTile(string what)
    {
        var config = ConfigOf(what);
        var weights = RandomWeights(config, 17);
        var root = WriteFolder(config, what.Contains("legacy") ? Legacy(weights) : weights);
        using var onnx = OnnxAutoencoderKL.LoadDirectory(root);
        using var torchVae = AutoencoderKL.LoadDirectory(root);
        Assert.Equal(config.Name, onnx.Config.Name);
        Assert.Equal((torchVae.LatentChannels, torchVae.DownscaleFactor), (onnx.LatentChannels, onnx.DownscaleFactor));

        var tile = PhotoTile(64);
        using var x = tensor(tile.Chw, [1, 3, tile.Size, tile.Size]);
        using var z = torchVae.Encode(x);
        using var pair = cat([z, z * 0.9f], 0); // a batch of two, as the engine decodes
        using var y = torchVae.Decode(pair);

        var latent = onnx.Encode(new NchwTensor(tile.Chw, 1, 3, tile.Size, tile.Size));
        var image = onnx.Decode(FromTorch(pair));
        Assert.Equal([1L, config.LatentChannels, 64 / config.DownscaleFactor, 64 / config.DownscaleFactor], latent.Shape);
        double latentDiff = RelMaxDiff(latent, FromTorch(z)), imageDiff = RelMaxDiff(image, FromTorch(y));
        output.WriteLine($"{what}: ONNX vs TorchSharp on a 64x64 tile, max |diff| / max |value|: latent {latentDiff:E2} (±{z.abs().max().item<float>():F2}), decoded pair {imageDiff:E2} (±{y.abs().max().item<float>():F2})");
        Assert.True(latentDiff < 1e-4, $"{what}: latent {latentDiff}");
        Assert.True(imageDiff < 1e-4, $"{what}: image {imageDiff}");
        foreach (var t in weights.Values) t.Dispose();
    }

    [Fact]
    public void WeightsThatDoNotFitAreRefusedNamingTheFile()
    {
        var weights = RandomWeights(Small, 2);
        weights.Remove("decoder.mid_block.attentions.0.to_k.bias");
        var root = WriteFolder(Small, weights);
        var file = Path.Combine(root, "vae", AutoencoderKL.WeightsFileName);
        var e = Assert.Throws<ModelFileException>(() => OnnxAutoencoderKL.LoadDirectory(root));
        Assert.Equal($"{file}: weights do not fit the model; missing 1: decoder.mid_block.attentions.0.to_k.bias", e.Message);

        weights = RandomWeights(Small, 2);
        weights["quant_conv.extra"] = zeros(3);
        weights["extra.weight"] = zeros(3);
        root = WriteFolder(Small, weights);
        file = Path.Combine(root, "vae", AutoencoderKL.WeightsFileName);
        e = Assert.Throws<ModelFileException>(() => OnnxAutoencoderKL.LoadDirectory(root));
        Assert.Equal($"{file}: weights do not fit the model; unexpected 1: quant_conv.extra", e.Message); // the encoder's, refused first
    }

    [Fact]
    public void BadInputsAreArgumentErrors()
    {
        using var vae = OnnxAutoencoderKL.LoadDirectory(WriteFolder(Small, RandomWeights(Small, 1)));
        Assert.Contains("multiples of 2", Assert.Throws<ArgumentException>(() => vae.Encode(new NchwTensor(new float[90], 1, 3, 5, 6))).Message);
        Assert.Contains("latent must have 4 channels", Assert.Throws<ArgumentException>(() => vae.Decode(new NchwTensor(new float[108], 1, 3, 6, 6))).Message);
    }
}
