using LatentBalance.Engine.Color;
using LatentBalance.Engine.Pipeline;
using Xunit.Abstractions;

namespace LatentBalance.Engine.Tests.Pipeline;

public class ColorMapFitterTests(ITestOutputHelper output)
{
    static readonly float[] Gain = [1.08f, 0.97f, 0.85f], Gamma = [0.9f, 1.0f, 1.15f];
    static readonly float[] Mix = [0.92f, 0.06f, 0.02f, 0.04f, 0.93f, 0.03f, 0.02f, 0.08f, 0.90f];

    /// <summary>A smooth colour transform: per-channel gain and gamma, then a mild channel mix.</summary>
    static (float, float, float) Known(float r, float g, float b)
    {
        float[] x = [r, g, b];
        for (int c = 0; c < 3; c++) x[c] = Math.Clamp(MathF.Pow(Math.Clamp(x[c], 0f, 1f), Gamma[c]) * Gain[c], 0f, 1f);
        float Row(int i) => Math.Clamp(Mix[3 * i] * x[0] + Mix[3 * i + 1] * x[1] + Mix[3 * i + 2] * x[2], 0f, 1f);
        return (Row(0), Row(1), Row(2));
    }

    /// <summary>The transform applied to a CHW image.</summary>
    static float[] KnownTransform(float[] chw)
    {
        int n = chw.Length / 3;
        var y = new float[chw.Length];
        for (int p = 0; p < n; p++) (y[p], y[n + p], y[2 * n + p]) = Known(chw[p], chw[n + p], chw[2 * n + p]);
        return y;
    }

    /// <summary>A real photo as CHW floats in [0, 1].</summary>
    static float[] Photo(int w, int h)
    {
        var path = Directory.GetFiles(Path.Combine(TestPaths.Photos, "debian-skimage-data"), "*.jpg").Order().First();
        using var img = NetVips.Image.Thumbnail(path, w, height: h, size: NetVips.Enums.Size.Force);
        var bytes = img.ExtractBand(0, n: 3).WriteToMemory<byte>();
        int n = w * h;
        var chw = new float[3 * n];
        for (int p = 0; p < n; p++)
            for (int c = 0; c < 3; c++) chw[c * n + p] = bytes[3 * p + c] / 255f;
        return chw;
    }

    static float[] Interleave(float[] chw)
    {
        int n = chw.Length / 3;
        var x = new float[chw.Length];
        for (int p = 0; p < n; p++)
            for (int c = 0; c < 3; c++) x[3 * p + c] = chw[c * n + p];
        return x;
    }

    [Fact]
    public void BakedLutReproducesAKnownSmoothTransformOnAFullSizeImage()
    {
        // the "distorted decode" is a 224 tile; the "fixed decode" is the known transform of it
        var tile = Photo(224, 224);
        var map = ColorMapFitter.Fit(tile, KnownTransform(tile), default, new ColorMapFitOptions());
        var lut = LutBaker.Bake([map]);

        // full-size image through the LUT (the production 8-bit path) vs the transform itself
        int w = 1024, h = 768;
        var full = Photo(w, h);
        var expected = Interleave(KnownTransform(full));
        var bytes = Interleave(full).Select(v => (byte)Math.Round(v * 255)).ToArray();
        new LutTransform(lut).Apply(bytes.AsSpan(), 3);
        var stats = Ciede2000.Stats(bytes.Select(b => b / 255f).ToArray(), expected);
        output.WriteLine($"baked LUT vs known transform on {w}x{h}: {stats}");
        Assert.True(stats.Mean < 1.0, stats.ToString());
    }

    [Fact]
    public void ATargetEqualToItsSourceGivesExactlyTheIdentity()
    {
        var tile = Photo(64, 64);
        var lut = LutBaker.Bake([ColorMapFitter.Fit(tile, tile, default, new ColorMapFitOptions())], 17);
        Assert.Equal(Lut3D.Identity(17).Data, lut.Data);
    }

    [Fact]
    public void TheFitIsDeterministicAndTheSeedMatters()
    {
        var tile = Photo(64, 64);
        var target = KnownTransform(tile);
        var a = LutBaker.Bake([ColorMapFitter.Fit(tile, target, default, new ColorMapFitOptions { Samples = 1000 })], 9);
        var b = LutBaker.Bake([ColorMapFitter.Fit(tile, target, default, new ColorMapFitOptions { Samples = 1000 })], 9);
        var c = LutBaker.Bake([ColorMapFitter.Fit(tile, target, default, new ColorMapFitOptions { Samples = 1000, Seed = 7 })], 9);
        Assert.Equal(a.Data, b.Data);
        Assert.NotEqual(a.Data, c.Data);
    }

    [Fact]
    public void MaskedPixelsDoNotInfluenceTheFit()
    {
        int s = 64;
        var tile = Photo(s, s);
        var target = KnownTransform(tile);
        var mask = new bool[s * s];
        for (int p = 0; p < mask.Length; p++) mask[p] = p % s >= 16;   // the first 16 columns are padding
        var poisoned = (float[])target.Clone();
        for (int p = 0; p < mask.Length; p++)
            if (!mask[p]) for (int c = 0; c < 3; c++) poisoned[c * s * s + p] = 1f;   // padding turned white in the target only
        var opts = new ColorMapFitOptions();
        var clean = LutBaker.Bake([ColorMapFitter.Fit(tile, target, mask, opts)], 9);
        var masked = LutBaker.Bake([ColorMapFitter.Fit(tile, poisoned, mask, opts)], 9);
        Assert.Equal(clean.Data, masked.Data);
        var unmasked = LutBaker.Bake([ColorMapFitter.Fit(tile, poisoned, default, opts)], 9);
        Assert.NotEqual(clean.Data, unmasked.Data);
    }

    [Fact]
    public void ChainedMapsBakeToTheirComposition()
    {
        var tile = Photo(64, 64);
        var once = KnownTransform(tile);
        var m1 = ColorMapFitter.Fit(tile, once, default, new ColorMapFitOptions());
        var m2 = ColorMapFitter.Fit(once, KnownTransform(once), default, new ColorMapFitOptions());
        var lut = LutBaker.Bake([m1, m2], 17);
        var twice = Interleave(tile);
        new LutTransform(lut).Apply(twice.AsSpan(), 3);
        var stats = Ciede2000.Stats(twice, Interleave(KnownTransform(KnownTransform(tile))));
        output.WriteLine($"two chained maps vs the transform applied twice: {stats}");
        Assert.True(stats.Mean < 1.5, stats.ToString());
        // the next iteration's tile is the map applied pixel by pixel, clamped
        var applied = m1.ApplyChw(tile);
        Assert.All(applied, v => Assert.InRange(v, 0f, 1f));
        Assert.True(Ciede2000.Mean(Interleave(applied), Interleave(once)) < 1.0);
    }

    [Fact]
    public void TooFewPixelsOrMismatchedInputsAreRefused()
    {
        var tile = Photo(8, 8);
        var mask = new bool[64];
        mask[0] = true;
        Assert.Throws<InvalidOperationException>(() => ColorMapFitter.Fit(tile, tile, mask, new ColorMapFitOptions()));
        Assert.Throws<ArgumentException>(() => ColorMapFitter.Fit(tile, tile.AsSpan(3), default, new ColorMapFitOptions()));
    }
}
