using System.Diagnostics;
using LatentBalance.Engine.Vae;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Tests.Vae;

/// <summary>TAEF2 against golden vectors computed in float64 by an independent reference implementation.</summary>
public class TinyAutoencoderGoldenTests(ITestOutputHelper output)
{
    static string Golden(string name) => Path.Combine(TestPaths.Taef2Dir, "golden", name);

    static TinyAutoencoder LoadTaef2() => TinyAutoencoder.Load(TestPack.Taef2Config,
        Path.Combine(TestPaths.Taef2Dir, "taef2_encoder.pth"), Path.Combine(TestPaths.Taef2Dir, "taef2_decoder.pth"));

    internal static Tensor LoadPngNchw(string path)
    {
        using var img = NetVips.Image.NewFromFile(path);
        Assert.Equal(3, img.Bands);
        Assert.Equal(NetVips.Enums.BandFormat.Uchar, img.Format);
        var hwc = img.WriteToMemory<byte>();
        int h = img.Height, w = img.Width, plane = h * w;
        var chw = new float[3 * plane];
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++)
                chw[c * plane + i] = hwc[i * 3 + c] / 255f;
        return torch.tensor(chw, [1, 3, h, w]);
    }

    static Tensor LoadF32(string path, long[] shape)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(shape.Aggregate(4L, (a, b) => a * b), bytes.Length);
        var floats = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        return torch.tensor(floats, shape);
    }

    static double RelL2(Tensor output, Tensor reference)
    {
        using var o = output.to_type(ScalarType.Float64);
        using var r = reference.to_type(ScalarType.Float64);
        using var diff = o - r;
        return diff.norm().item<double>() / r.norm().item<double>();
    }

    static double TimeMs(Func<Tensor> run)
    {
        run().Dispose(); // warm-up
        var sw = Stopwatch.StartNew();
        run().Dispose();
        return sw.Elapsed.TotalMilliseconds;
    }

    [Fact]
    public void EncoderMatchesGoldenLatent()
    {
        using var vae = LoadTaef2();
        using var image = LoadPngNchw(Golden("input_224.png"));
        using var reference = LoadF32(Golden("latent_1x32x28x28.f32"), [1, 32, 28, 28]);
        using var latent = vae.Encode(image);
        Assert.Equal([1L, 32, 28, 28], latent.shape);
        double err = RelL2(latent, reference);
        double ms = TimeMs(() => vae.Encode(image));
        output.WriteLine($"TAEF2 encode 224x224: relative L2 error {err:E3}, {ms:F1} ms (after one warm-up, {torch.get_num_threads()} threads)");
        Assert.True(err < 1e-3, $"encoder relative L2 error {err}");
    }

    [Fact]
    public void DecoderMatchesGoldenImage()
    {
        using var vae = LoadTaef2();
        using var latent = LoadF32(Golden("latent_1x32x28x28.f32"), [1, 32, 28, 28]);
        using var reference = LoadF32(Golden("decoded_1x3x224x224.f32"), [1, 3, 224, 224]);
        using var decoded = vae.Decode(latent);
        Assert.Equal([1L, 3, 224, 224], decoded.shape);
        double err = RelL2(decoded, reference);
        double ms = TimeMs(() => vae.Decode(latent));
        output.WriteLine($"TAEF2 decode 28x28 -> 224x224: relative L2 error {err:E3}, {ms:F1} ms (after one warm-up, {torch.get_num_threads()} threads)");
        Assert.True(err < 1e-3, $"decoder relative L2 error {err}");
    }

    [Fact]
    public void RoundTripReconstructsTheInput()
    {
        using var vae = LoadTaef2();
        using var image = LoadPngNchw(Golden("input_224.png"));
        using var latent = vae.Encode(image);
        using var decoded = vae.Decode(latent);
        using var clamped = decoded.clamp(0, 1);
        double mse = (clamped - image).pow(2).mean().item<float>();
        double psnr = 10 * Math.Log10(1 / mse);
        output.WriteLine($"TAEF2 round trip PSNR {psnr:F2} dB (golden.json: 27.12 dB)");
        Assert.InRange(psnr, 26.5, 28.0);
    }
}
