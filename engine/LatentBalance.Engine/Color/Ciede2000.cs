using static TorchSharp.torch;

namespace LatentBalance.Engine.Color;

/// <summary>Summary of per-pixel colour differences between two images.</summary>
public readonly record struct DeltaEStats(double Mean, double Median, double P90, double Max, long Count)
{
    public override string ToString() => FormattableString.Invariant($"dE00 mean {Mean:F3}, median {Median:F3}, p90 {P90:F3}, max {Max:F3} over {Count} px");
}

/// <summary>
/// The CIEDE2000 colour difference (CIE 142-2001), implemented after Sharma, Wu and Dalal,
/// "The CIEDE2000 color-difference formula: implementation notes, supplementary test data and
/// mathematical observations", Color Res. Appl. 30(1), 2005, and checked against their test pairs.
/// Image helpers convert sRGB in [0,1] to CIELAB (D65, <see cref="ColorSpaces"/>) first.
/// </summary>
public static class Ciede2000
{
    const double Pow25To7 = 6103515625.0; // 25^7
    const double Deg = Math.PI / 180.0;

    public static double Delta(double l1, double a1, double b1, double l2, double a2, double b2,
        double kL = 1, double kC = 1, double kH = 1)
    {
        double c1 = Math.Sqrt(a1 * a1 + b1 * b1), c2 = Math.Sqrt(a2 * a2 + b2 * b2);
        double cMean = (c1 + c2) / 2, cMean7 = Math.Pow(cMean, 7);
        double g = 0.5 * (1 - Math.Sqrt(cMean7 / (cMean7 + Pow25To7)));
        double ap1 = (1 + g) * a1, ap2 = (1 + g) * a2;
        double cp1 = Math.Sqrt(ap1 * ap1 + b1 * b1), cp2 = Math.Sqrt(ap2 * ap2 + b2 * b2);
        double hp1 = Hue(b1, ap1), hp2 = Hue(b2, ap2);

        double dL = l2 - l1, dC = cp2 - cp1;
        double cProd = cp1 * cp2;
        double dh = 0;
        if (cProd != 0)
        {
            dh = hp2 - hp1;
            if (dh > 180) dh -= 360;
            else if (dh < -180) dh += 360;
        }
        double dH = 2 * Math.Sqrt(cProd) * Math.Sin(dh / 2 * Deg);

        double lMean = (l1 + l2) / 2, cpMean = (cp1 + cp2) / 2;
        double hMean;
        if (cProd == 0) hMean = hp1 + hp2;
        else if (Math.Abs(hp1 - hp2) <= 180) hMean = (hp1 + hp2) / 2;
        else if (hp1 + hp2 < 360) hMean = (hp1 + hp2 + 360) / 2;
        else hMean = (hp1 + hp2 - 360) / 2;

        double t = 1 - 0.17 * Math.Cos((hMean - 30) * Deg) + 0.24 * Math.Cos(2 * hMean * Deg)
                 + 0.32 * Math.Cos((3 * hMean + 6) * Deg) - 0.20 * Math.Cos((4 * hMean - 63) * Deg);
        double dTheta = 30 * Math.Exp(-Math.Pow((hMean - 275) / 25, 2));
        double cpMean7 = Math.Pow(cpMean, 7);
        double rC = 2 * Math.Sqrt(cpMean7 / (cpMean7 + Pow25To7));
        double l50 = (lMean - 50) * (lMean - 50);
        double sL = 1 + 0.015 * l50 / Math.Sqrt(20 + l50);
        double sC = 1 + 0.045 * cpMean;
        double sH = 1 + 0.015 * cpMean * t;
        double rT = -Math.Sin(2 * dTheta * Deg) * rC;

        double tl = dL / (kL * sL), tc = dC / (kC * sC), th = dH / (kH * sH);
        return Math.Sqrt(tl * tl + tc * tc + th * th + rT * tc * th);
    }

    static double Hue(double b, double ap)
    {
        if (b == 0 && ap == 0) return 0;
        double h = Math.Atan2(b, ap) / Deg;
        return h < 0 ? h + 360 : h;
    }

    /// <summary>Per-pixel CIEDE2000 between two interleaved sRGB [0,1] images (RGBRGB..., same length).</summary>
    public static double[] PerPixel(ReadOnlySpan<float> srgbA, ReadOnlySpan<float> srgbB)
    {
        if (srgbA.Length != srgbB.Length) throw new ArgumentException($"images differ in size: {srgbA.Length} vs {srgbB.Length} values");
        if (srgbA.Length % 3 != 0) throw new ArgumentException($"interleaved RGB expected, length {srgbA.Length} is not a multiple of 3");
        var d = new double[srgbA.Length / 3];
        for (int i = 0, p = 0; p < d.Length; i += 3, p++)
        {
            var (l1, a1, b1) = ColorSpaces.SrgbToLab(srgbA[i], srgbA[i + 1], srgbA[i + 2]);
            var (l2, a2, b2) = ColorSpaces.SrgbToLab(srgbB[i], srgbB[i + 1], srgbB[i + 2]);
            d[p] = Delta(l1, a1, b1, l2, a2, b2);
        }
        return d;
    }

    /// <summary>Stats over two interleaved sRGB [0,1] float images (RGBRGB..., same length).</summary>
    public static DeltaEStats Stats(ReadOnlySpan<float> srgbA, ReadOnlySpan<float> srgbB) => Summarise(PerPixel(srgbA, srgbB));

    /// <summary>Stats over two sRGB [0,1] image tensors [3,H,W] or [N,3,H,W] of the same shape (any device).</summary>
    public static DeltaEStats Stats(Tensor srgbA, Tensor srgbB)
    {
        if (!srgbA.shape.SequenceEqual(srgbB.shape))
            throw new ArgumentException($"images differ in shape: [{string.Join(",", srgbA.shape)}] vs [{string.Join(",", srgbB.shape)}]");
        using var scope = NewDisposeScope();
        var la = ToLabRows(srgbA);
        var lb = ToLabRows(srgbB);
        var d = new double[la.Length / 3];
        for (int i = 0, p = 0; p < d.Length; i += 3, p++)
            d[p] = Delta(la[i], la[i + 1], la[i + 2], lb[i], lb[i + 1], lb[i + 2]);
        return Summarise(d);
    }

    public static double Mean(ReadOnlySpan<float> srgbA, ReadOnlySpan<float> srgbB) => Stats(srgbA, srgbB).Mean;
    public static double Mean(Tensor srgbA, Tensor srgbB) => Stats(srgbA, srgbB).Mean;

    /// <summary>Mean over the pixels where <paramref name="mask"/> ([H, W] or any shape of H*W bools) is
    /// true, of two sRGB [0,1] images [3, H, W] (e.g. a tile without its padding).</summary>
    public static double Mean(Tensor srgbA, Tensor srgbB, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var idx = mask.reshape(-1).nonzero().squeeze(1).to(srgbA.device);
        return Mean(srgbA.reshape(3, -1).index_select(1, idx).unsqueeze(2), srgbB.reshape(3, -1).index_select(1, idx).unsqueeze(2));
    }

    static double[] ToLabRows(Tensor srgb)
    {
        var lab = ColorSpaces.SrgbToLab(srgb.detach().to(ScalarType.Float64).cpu());
        return lab.movedim([-3L], [-1L]).contiguous().data<double>().ToArray();
    }

    /// <summary>Mean, median, 90th percentile (linear interpolation between order statistics) and max.
    /// Sorts <paramref name="values"/> in place.</summary>
    public static DeltaEStats Summarise(double[] values)
    {
        if (values.Length == 0) return new DeltaEStats(0, 0, 0, 0, 0);
        double sum = 0;
        foreach (var v in values) sum += v;
        Array.Sort(values);
        return new DeltaEStats(sum / values.Length, Percentile(values, 0.5), Percentile(values, 0.9), values[^1], values.Length);
    }

    /// <summary>Percentile p in [0,1] of sorted values, linear interpolation (numpy's default).</summary>
    public static double Percentile(double[] sorted, double p)
    {
        double pos = p * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }
}
