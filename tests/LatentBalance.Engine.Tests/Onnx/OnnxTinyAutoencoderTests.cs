using LatentBalance.Engine.Imaging;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Tests.Vae;
using LatentBalance.Engine.Vae;
using LatentBalance.Onnx;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Tests.Onnx;

/// <summary>TAEF2 through ONNX Runtime: the golden vectors (as <see cref="TinyAutoencoderGoldenTests"/>), and the engine's TorchSharp TAEF2 on a real photo's tile.</summary>
public class OnnxTinyAutoencoderTests(ITestOutputHelper output)
{
    static string Weights(string name) => Path.Combine(TestPaths.Taef2Dir, name);
    static string Golden(string name) => Path.Combine(TestPaths.Taef2Dir, "golden", name);

    static OnnxTinyAutoencoder LoadTaef2() => OnnxTinyAutoencoder.Load(TestPack.Taef2Config, Weights("taef2_encoder.pth"), Weights("taef2_decoder.pth"));

    internal static NchwTensor FromTorch(Tensor t)
    {
        using var c = t.to_type(ScalarType.Float32).contiguous();
        return new(c.data<float>().ToArray(), (int)t.shape[0], (int)t.shape[1], (int)t.shape[2], (int)t.shape[3]);
    }

    static NchwTensor ReadF32(string path, int n, int c, int h, int w) =>
        new(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(path)).ToArray(), n, c, h, w);

    static double RelL2(NchwTensor output, NchwTensor reference)
    {
        Assert.Equal(reference.Shape, output.Shape);
        double diff = 0, norm = 0;
        for (int i = 0; i < reference.Data.Length; i++)
        {
            double d = (double)output.Data[i] - reference.Data[i];
            diff += d * d;
            norm += (double)reference.Data[i] * reference.Data[i];
        }
        return Math.Sqrt(diff / norm);
    }

    internal static float MaxAbsDiff(NchwTensor a, NchwTensor b)
    {
        Assert.Equal(a.Shape, b.Shape);
        float max = 0;
        for (int i = 0; i < a.Data.Length; i++) max = Math.Max(max, Math.Abs(a.Data[i] - b.Data[i]));
        return max;
    }

    [Fact]
    public void EncoderMatchesGoldenLatent()
    {
        using var vae = LoadTaef2();
        using var image = TinyAutoencoderGoldenTests.LoadPngNchw(Golden("input_224.png"));
        var latent = vae.Encode(FromTorch(image));
        double err = RelL2(latent, ReadF32(Golden("latent_1x32x28x28.f32"), 1, 32, 28, 28));
        output.WriteLine($"ONNX TAEF2 encode 224x224: relative L2 error {err:E3}");
        Assert.True(err < 1e-3, $"encoder relative L2 error {err}");
    }

    [Fact]
    public void DecoderMatchesGoldenImage()
    {
        using var vae = LoadTaef2();
        var decoded = vae.Decode(ReadF32(Golden("latent_1x32x28x28.f32"), 1, 32, 28, 28));
        double err = RelL2(decoded, ReadF32(Golden("decoded_1x3x224x224.f32"), 1, 3, 224, 224));
        output.WriteLine($"ONNX TAEF2 decode 28x28 -> 224x224: relative L2 error {err:E3}");
        Assert.True(err < 1e-3, $"decoder relative L2 error {err}");
    }

    [Fact]
    public void AgreesWithTorchSharpOnAPhotoTile()
    {
        var photo = Path.Combine(TestPaths.Photos, "bsds500", "100075.jpg");
        using var img = NetVips.Image.NewFromFile(photo);
        var tile = ThumbnailFit.FromImage(img);
        var image = new NchwTensor(tile.Chw, 1, 3, tile.Size, tile.Size);
        using var onnx = LoadTaef2();
        using var torchVae = TinyAutoencoder.Load(TestPack.Taef2Config, Weights("taef2_encoder.pth"), Weights("taef2_decoder.pth"));
        using var x = torch.tensor(tile.Chw, [1, 3, tile.Size, tile.Size]);
        using var z = torchVae.Encode(x);
        var torchLatent = FromTorch(z);
        using var balancedPair = cat([z, z * 0.9f], 0); // a batch of two, as the engine decodes
        var torchDecoded = FromTorch(torchVae.Decode(balancedPair));

        float latentDiff = MaxAbsDiff(onnx.Encode(image), torchLatent);
        float imageDiff = MaxAbsDiff(onnx.Decode(FromTorch(balancedPair)), torchDecoded);
        output.WriteLine($"{Path.GetFileName(photo)}: ONNX vs TorchSharp max |diff| latent {latentDiff:E2} (latent range ±{torchLatent.Data.Max(Math.Abs):F2}), decoded pair {imageDiff:E2}");
        Assert.True(latentDiff < 1e-4, $"latent max difference {latentDiff}");
        Assert.True(imageDiff < 1e-4, $"decoded max difference {imageDiff}");
    }

    public static TheoryData<string, bool, bool> OtherShapes => new()
    {
        { "taesd-like: no pool, clamp", false, true },
        { "pool, no clamp", true, false },
    };

    /// <summary>Other configs than TAEF2's build too (the graphs follow the config): random weights written as safetensors, against the engine's TorchSharp networks.</summary>
    [Theory]
    [MemberData(nameof(OtherShapes))]
    public void OtherConfigsMatchTorchSharp(string what, bool pool, bool clamp)
    {
        var config = new TinyAutoencoderConfig
        {
            Name = "small", LatentChannels = 4, Width = 16, EncoderBlocks = [1, 2, 2], DecoderBlocks = [2, 2, 1],
            DeepestStagePool = pool, PoolExpansion = 2, PoolGroups = 4, DecoderClamp = clamp, ClampMagnitude = 2.5,
        };
        var dir = TestPaths.TempDir("onnx-shapes");
        manual_seed(11);
        using var encoder = TinyAutoencoderNetworks.Encoder(config);
        using var decoder = TinyAutoencoderNetworks.Decoder(config);
        foreach (var (net, file) in new[] { (encoder, "encoder.safetensors"), (decoder, "decoder.safetensors") })
        {
            net.eval();
            var weights = net.state_dict();
            using (no_grad())
                foreach (var (key, p) in weights)
                    if (key.Contains(".pool.1.")) p.copy_(rand_like(p) + 0.5f); // TorchSharp leaves GroupNorm's affine uninitialised
            SafeTensors.Write(Path.Combine(dir, file), weights);
        }
        using var onnx = OnnxTinyAutoencoder.Load(config, Path.Combine(dir, "encoder.safetensors"), Path.Combine(dir, "decoder.safetensors"));
        using var x = rand(2, 3, 32, 24);
        using var noGrad = no_grad();
        using var z = encoder.forward(x);
        using var wide = z * (6.0f / z.abs().max().item<float>()); // latents out to ±6, so that the clamp (±2.5) bites
        using var y = decoder.forward(wide);
        var onnxLatent = onnx.Encode(FromTorch(x));
        Assert.Equal([2L, 4, 8, 6], onnxLatent.Shape);
        // relative to the largest value: random weights give small activations
        float latentDiff = MaxAbsDiff(onnxLatent, FromTorch(z)) / z.abs().max().item<float>();
        float imageDiff = MaxAbsDiff(onnx.Decode(FromTorch(wide)), FromTorch(y)) / y.abs().max().item<float>();
        output.WriteLine($"{what}: max |diff| / max |value|: latent {latentDiff:E2}, image {imageDiff:E2}");
        Assert.True(latentDiff < 1e-5 && imageDiff < 1e-5, $"{what}: latent {latentDiff}, image {imageDiff}");
    }

    [Fact]
    public void WeightsThatDoNotFitAreRefusedNamingTheFile()
    {
        var decoder = Weights("taef2_decoder.pth");
        var e = Assert.Throws<ModelFileException>(() => OnnxTinyAutoencoder.Load(TestPack.Taef2Config, decoder, decoder));
        Assert.StartsWith($"{decoder}: weights do not fit the model; missing", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
