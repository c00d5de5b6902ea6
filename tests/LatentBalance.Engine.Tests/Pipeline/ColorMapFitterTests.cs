using LatentBalance.Engine.Color;
using LatentBalance.Engine.Pipeline;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Tests.Pipeline;

public class ColorMapFitterTests(ITestOutputHelper output)
{
    /// <summary>A smooth colour transform: per-channel gain and gamma, then a mild channel mix.</summary>
    static Tensor KnownTransform(Tensor rgb)
    {
        var gain = tensor(new float[] { 1.08f, 0.97f, 0.85f }).view(3, 1, 1);
        var gamma = tensor(new float[] { 0.9f, 1.0f, 1.15f }).view(3, 1, 1);
        var x = (rgb.clamp(0, 1).pow(gamma) * gain).clamp(0, 1);
        var mix = tensor(new float[] { 0.92f, 0.06f, 0.02f, 0.04f, 0.93f, 0.03f, 0.02f, 0.08f, 0.90f }).view(3, 3);
        return einsum("ij,jhw->ihw", mix, x).clamp(0, 1);
    }

    static Tensor Photo(int w, int h)
    {
        var path = Directory.GetFiles(Path.Combine(TestPaths.Photos, "debian-skimage-data"), "*.jpg").Order().First();
        using var img = NetVips.Image.Thumbnail(path, w, height: h, size: NetVips.Enums.Size.Force);
        var bytes = img.ExtractBand(0, n: 3).WriteToMemory();
        return tensor(bytes.Select(b => b / 255f).ToArray(), [h, w, 3]).permute(2, 0, 1).contiguous();
    }

    [Fact]
    public void BakedLutReproducesAKnownSmoothTransformOnAFullSizeImage()
    {
        // the "distorted decode" is a 224 tile; the "fixed decode" is the known transform of it
        var tile = Photo(224, 224);
        var target = KnownTransform(tile);
        var mlp = ColorMapFitter.Fit(tile, target, null, new ColorMapFitOptions());
        var lut = LutBaker.Bake([mlp]);

        // full-size image through the LUT (the production 8-bit path) vs the transform itself
        int w = 1024, h = 768;
        var full = Photo(w, h);
        var expected = KnownTransform(full);
        var interleaved = (full.permute(1, 2, 0).contiguous() * 255).round().to(ScalarType.Byte).data<byte>().ToArray();
        new LutTransform(lut).Apply(interleaved.AsSpan(), 3);
        var got = tensor(interleaved.Select(b => b / 255f).ToArray(), [h, w, 3]).permute(2, 0, 1);
        var stats = Ciede2000.Stats(got, expected);
        output.WriteLine($"baked LUT vs known transform on {w}x{h}: {stats}");
        Assert.True(stats.Mean < 1.0, stats.ToString());
    }

    [Fact]
    public void TheFitIsDeterministic()
    {
        var tile = Photo(64, 64);
        var target = KnownTransform(tile);
        var a = LutBaker.Bake([ColorMapFitter.Fit(tile, target, null, new ColorMapFitOptions { Steps = 50 })], 9);
        var b = LutBaker.Bake([ColorMapFitter.Fit(tile, target, null, new ColorMapFitOptions { Steps = 50 })], 9);
        Assert.Equal(a.Data, b.Data);
    }

    [Fact]
    public void MaskedPixelsDoNotInfluenceTheFit()
    {
        var tile = Photo(64, 64);
        var target = KnownTransform(tile).clone();
        var mask = ones(64, 64, dtype: ScalarType.Bool);
        mask[.., TensorIndex.Slice(0, 16)] = tensor(false);
        var poisoned = target.clone();
        poisoned[.., .., TensorIndex.Slice(0, 16)] = tensor(1f); // padding turned white in the target only
        var opts = new ColorMapFitOptions { Steps = 100 };
        var clean = LutBaker.Bake([ColorMapFitter.Fit(tile, target, mask, opts)], 9);
        var masked = LutBaker.Bake([ColorMapFitter.Fit(tile, poisoned, mask, opts)], 9);
        Assert.Equal(clean.Data, masked.Data);
        var unmasked = LutBaker.Bake([ColorMapFitter.Fit(tile, poisoned, null, opts)], 9);
        Assert.NotEqual(clean.Data, unmasked.Data);
    }

    [Fact]
    public void ChainedMapsBakeToTheirComposition()
    {
        var tile = Photo(64, 64);
        var once = KnownTransform(tile);
        var m1 = ColorMapFitter.Fit(tile, once, null, new ColorMapFitOptions());
        var m2 = ColorMapFitter.Fit(once, KnownTransform(once), null, new ColorMapFitOptions());
        var lut = LutBaker.Bake([m1, m2], 17);
        var twice = LutTransform.ApplyToTensor(lut, tile.unsqueeze(0))[0];
        var stats = Ciede2000.Stats(twice, KnownTransform(KnownTransform(tile)));
        output.WriteLine($"two chained maps vs the transform applied twice: {stats}");
        Assert.True(stats.Mean < 1.5, stats.ToString());
    }
}
