using LatentBalance.Engine.Imaging;
using NetVips;

namespace LatentBalance.Engine.Tests.Imaging;

/// <summary>Swaps red and blue; alpha (band 3) untouched.</summary>
sealed class SwapRedBlue : IPixelTransform
{
    public void Apply(Span<byte> p, int bands) { for (int i = 0; i + 2 < p.Length; i += bands) (p[i], p[i + 2]) = (p[i + 2], p[i]); }
    public void Apply(Span<ushort> p, int bands) { for (int i = 0; i + 2 < p.Length; i += bands) (p[i], p[i + 2]) = (p[i + 2], p[i]); }
    public void Apply(Span<float> p, int bands) { for (int i = 0; i + 2 < p.Length; i += bands) (p[i], p[i + 2]) = (p[i + 2], p[i]); }
}

/// <summary>Inverts RGB (max - v); alpha untouched.</summary>
sealed class InvertRgb : IPixelTransform
{
    public void Apply(Span<byte> p, int bands) { for (int i = 0; i < p.Length; i += bands) for (int c = 0; c < 3; c++) p[i + c] = (byte)(255 - p[i + c]); }
    public void Apply(Span<ushort> p, int bands) { for (int i = 0; i < p.Length; i += bands) for (int c = 0; c < 3; c++) p[i + c] = (ushort)(65535 - p[i + c]); }
    public void Apply(Span<float> p, int bands) { for (int i = 0; i < p.Length; i += bands) for (int c = 0; c < 3; c++) p[i + c] = 1 - p[i + c]; }
}

sealed class IdentityTransform : IPixelTransform
{
    public void Apply(Span<byte> p, int bands) { }
    public void Apply(Span<ushort> p, int bands) { }
    public void Apply(Span<float> p, int bands) { }
}

sealed class ThrowingTransform : IPixelTransform
{
    public void Apply(Span<byte> p, int bands) => throw new InvalidOperationException("boom");
    public void Apply(Span<ushort> p, int bands) => throw new InvalidOperationException("boom");
    public void Apply(Span<float> p, int bands) => throw new InvalidOperationException("boom");
}

static class TestImages
{
    /// <summary>A smooth RGB gradient with mild texture (8-bit sRGB).</summary>
    public static Image Rgb8(int w, int h, int seed = 0)
    {
        using var xyz = Image.Xyz(w, h);
        using var x = xyz[0];
        using var y = xyz[1];
        using var r = x.Linear([220.0 / w], [20]);
        using var g = y.Linear([200.0 / h], [30]);
        using var sum = x + y;
        using var b = sum.Linear([180.0 / (w + h)], [40 + seed]);
        using var joined = r.Bandjoin(g, b);
        return joined.Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
    }

    /// <summary>A float copy of a float image with some samples set (x, y, band, value), e.g. NaN or infinities.</summary>
    public static Image WithSamples(Image floatImage, (int X, int Y, int Band, float Value)[] samples)
    {
        int w = floatImage.Width, h = floatImage.Height, bands = floatImage.Bands;
        var data = floatImage.WriteToMemory<float>();
        foreach (var (x, y, b, v) in samples) data[(y * w + x) * bands + b] = v;
        using var raw = Image.NewFromMemory(data, w, h, bands, Enums.BandFormat.Float);
        return raw.Copy(interpretation: floatImage.Interpretation);
    }

    /// <summary>A 16-bit gradient using the full 16-bit range (values not multiples of 257).</summary>
    public static Image Rgb16(int w, int h)
    {
        using var xyz = Image.Xyz(w, h);
        using var x = xyz[0];
        using var y = xyz[1];
        using var r = x.Linear([60000.0 / w], [1001]);
        using var g = y.Linear([50000.0 / h], [3333]);
        using var sum = x + y;
        using var b = sum.Linear([40000.0 / (w + h)], [7777]);
        using var joined = r.Bandjoin(g, b);
        return joined.Cast(Enums.BandFormat.Ushort).Copy(interpretation: Enums.Interpretation.Rgb16);
    }

    /// <summary>Photo-like 8-bit content (gradients plus noise) that compresses like a real photo.</summary>
    public static Image PhotoLike(int w, int h)
    {
        using var baseImg = Rgb8(w, h);
        using var noise = Image.Gaussnoise(w, h, sigma: 18, mean: 0);
        using var noise3 = noise.Bandjoin(noise, noise);
        using var sum = baseImg.Cast(Enums.BandFormat.Float) + noise3;
        using var soft = sum.Gaussblur(0.7);
        return soft.Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
    }

    public static double MaxAbsDiff(Image a, Image b)
    {
        using var d = a.Cast(Enums.BandFormat.Float) - b.Cast(Enums.BandFormat.Float);
        using var abs = d.Abs();
        return abs.Max();
    }

    public static double MeanAbsDiff(Image a, Image b)
    {
        using var d = a.Cast(Enums.BandFormat.Float) - b.Cast(Enums.BandFormat.Float);
        using var abs = d.Abs();
        return abs.Avg();
    }

    public static Image SwapRb(Image im)
    {
        using var r = im[0];
        using var g = im[1];
        using var b = im[2];
        using var joined = im.Bands == 4 ? b.Bandjoin(g, r, im[3]) : b.Bandjoin(g, r);
        return joined.Copy(interpretation: im.Interpretation);
    }

    /// <summary>Loads the whole file now (so nothing stays open or cached lazily).</summary>
    public static Image Load(string path)
    {
        using var im = Image.NewFromFile(path, revalidate: true);
        return im.CopyMemory();
    }

    /// <summary>Files in a folder other than the given ones (temp files left behind would show here).</summary>
    public static string[] OtherFiles(string dir, params string[] expected) =>
        Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).Where(n => !expected.Contains(n)).ToArray()!;
}
