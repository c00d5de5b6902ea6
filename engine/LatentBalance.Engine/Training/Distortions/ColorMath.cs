using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Training.Distortions;

/// <summary>
/// Colour maths shared by the distortion ops: sRGB transfer functions on tensors, the
/// linear-sRGB/XYZ (D65) matrices, Rec.709 luminance, CIE 1960 UCS and the chromaticity of the
/// daylight/Planckian locus. Images are [N,3,H,W] float32.
/// </summary>
internal static class ColorMath
{
    /// <summary>Linear sRGB -> XYZ (D65), IEC 61966-2-1.</summary>
    public static readonly double[,] RgbToXyz =
    {
        { 0.4124564, 0.3575761, 0.1804375 },
        { 0.2126729, 0.7151522, 0.0721750 },
        { 0.0193339, 0.1191920, 0.9503041 },
    };

    public static readonly double[,] XyzToRgb = Invert(RgbToXyz);

    /// <summary>Bradford cone-response matrix (XYZ -> sharpened LMS).</summary>
    public static readonly double[,] Bradford =
    {
        { 0.8951, 0.2664, -0.1614 },
        { -0.7502, 1.7135, 0.0367 },
        { 0.0389, -0.0685, 1.0296 },
    };

    public static readonly double[,] BradfordInverse = Invert(Bradford);

    public const double LumaR = 0.2126729, LumaG = 0.7151522, LumaB = 0.0721750;

    // ---- tensor helpers --------------------------------------------------------------------

    /// <summary>sRGB-encoded [0,1] -> linear light (exact piecewise curve).</summary>
    public static Tensor SrgbToLinear(Tensor x)
    {
        var c = x.clamp(0.0, 1.0);
        var lo = c / 12.92;
        var hi = ((c + 0.055) / 1.055).pow(2.4);
        return where(c <= 0.04045, lo, hi);
    }

    /// <summary>Linear light -> sRGB-encoded; input is clamped to [0,1] first.</summary>
    public static Tensor LinearToSrgb(Tensor x)
    {
        var c = x.clamp(0.0, 1.0);
        var lo = c * 12.92;
        var hi = c.clamp_min(1e-12).pow(1.0 / 2.4) * 1.055 - 0.055;
        return where(c <= 0.0031308, lo, hi);
    }

    /// <summary>Applies a 3x3 matrix to the channel axis of an [N,3,H,W] tensor: out_i = sum_j m[i,j] x_j.</summary>
    public static Tensor MixChannels(Tensor img, double[,] m)
    {
        var flat = new float[9];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                flat[i * 3 + j] = (float)m[i, j];
        var mt = tensor(flat, new long[] { 3, 3 }, dtype: ScalarType.Float32, device: img.device);
        return einsum("ij,njhw->nihw", mt, img);
    }

    /// <summary>Per-channel multiply of an [N,3,H,W] tensor by (a0, a1, a2).</summary>
    public static Tensor ChannelVector(Tensor like, double a0, double a1, double a2) =>
        tensor(new[] { (float)a0, (float)a1, (float)a2 }, new long[] { 1, 3, 1, 1 }, dtype: ScalarType.Float32, device: like.device);

    /// <summary>Rec.709 / sRGB relative luminance of linear RGB, shape [N,1,H,W].</summary>
    public static Tensor Luminance(Tensor lin) =>
        (lin * ChannelVector(lin, LumaR, LumaG, LumaB)).sum(1, keepdim: true);

    // ---- chromaticity / locus --------------------------------------------------------------

    /// <summary>
    /// CIE xy chromaticity of the white locus at correlated colour temperature <paramref name="kelvin"/>:
    /// the Planckian locus (Kim et al. cubic spline) below 4000 K, the CIE daylight locus above 4500 K
    /// and a linear blend between, so the curve is continuous. Valid 1667..25000 K (clamped).
    /// </summary>
    public static (double x, double y) LocusXy(double kelvin)
    {
        double t = Math.Clamp(kelvin, 1667.0, 25000.0);
        if (t <= 4000) return PlanckXy(t);
        if (t >= 4500) return DaylightXy(t);
        double w = (t - 4000) / 500.0;
        var p = PlanckXy(t);
        var d = DaylightXy(t);
        return (p.x + w * (d.x - p.x), p.y + w * (d.y - p.y));
    }

    /// <summary>Planckian locus approximation (Kim, Kang, Kim, Lee 2002), 1667..25000 K.</summary>
    public static (double x, double y) PlanckXy(double t)
    {
        double t1 = 1e3 / t, t2 = t1 * t1, t3 = t2 * t1;
        double x = t <= 4000
            ? -0.2661239 * t3 - 0.2343589 * t2 + 0.8776956 * t1 + 0.179910
            : -3.0258469 * t3 + 2.1070379 * t2 + 0.2226347 * t1 + 0.240390;
        double x2 = x * x, x3 = x2 * x;
        double y = t <= 2222
            ? -1.1063814 * x3 - 1.34811020 * x2 + 2.18555832 * x - 0.20219683
            : t <= 4000
                ? -0.9549476 * x3 - 1.37418593 * x2 + 2.09137015 * x - 0.16748867
                : 3.0817580 * x3 - 5.87338670 * x2 + 3.75112997 * x - 0.37001483;
        return (x, y);
    }

    /// <summary>CIE daylight locus (CIE 15), 4000..25000 K.</summary>
    public static (double x, double y) DaylightXy(double t)
    {
        double t1 = 1e3 / t, t2 = t1 * t1, t3 = t2 * t1;
        double x = t <= 7000
            ? -4.6070 * t3 + 2.9678 * t2 + 0.09911 * t1 + 0.244063
            : -2.0064 * t3 + 1.9018 * t2 + 0.24748 * t1 + 0.237040;
        double y = -3.000 * x * x + 2.870 * x - 0.275;
        return (x, y);
    }

    public static (double u, double v) XyToUv(double x, double y)
    {
        double d = -2 * x + 12 * y + 3;
        return (4 * x / d, 6 * y / d);
    }

    public static (double x, double y) UvToXy(double u, double v)
    {
        double d = 2 * u - 8 * v + 4;
        return (3 * u / d, 2 * v / d);
    }

    /// <summary>
    /// White point at <paramref name="kelvin"/> moved off the locus by <paramref name="duv"/> in CIE 1960 uv,
    /// along the locus normal (positive = above the locus = greener, negative = magenta).
    /// </summary>
    public static (double x, double y) WhiteXy(double kelvin, double duv)
    {
        var (x, y) = LocusXy(kelvin);
        if (duv == 0) return (x, y);
        var (u, v) = XyToUv(x, y);
        var (xa, ya) = LocusXy(kelvin * 0.99);
        var (xb, yb) = LocusXy(kelvin * 1.01);
        var (ua, va) = XyToUv(xa, ya);
        var (ub, vb) = XyToUv(xb, yb);
        double du = ub - ua, dv = vb - va, len = Math.Sqrt(du * du + dv * dv);
        // tangent (du,dv) points towards higher K (down-left in uv); its left normal (-dv, du)... pick the
        // normal with positive v component so that +duv means "above the locus" (towards green).
        double nu = -dv / len, nv = du / len;
        if (nv < 0) { nu = -nu; nv = -nv; }
        return UvToXy(u + duv * nu, v + duv * nv);
    }

    public static double[] XyToXyz(double x, double y) => [x / y, 1.0, (1 - x - y) / y];

    // ---- small dense linear algebra ----------------------------------------------------------

    public static double[,] Multiply(double[,] a, double[,] b)
    {
        var r = new double[3, 3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 3; k++)
                    r[i, j] += a[i, k] * b[k, j];
        return r;
    }

    public static double[] Multiply(double[,] a, double[] v)
    {
        var r = new double[3];
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 3; k++)
                r[i] += a[i, k] * v[k];
        return r;
    }

    public static double[,] Diagonal(double a, double b, double c) => new double[,] { { a, 0, 0 }, { 0, b, 0 }, { 0, 0, c } };

    public static double[,] Invert(double[,] m)
    {
        double a = m[0, 0], b = m[0, 1], c = m[0, 2], d = m[1, 0], e = m[1, 1], f = m[1, 2], g = m[2, 0], h = m[2, 1], i = m[2, 2];
        double A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
        double det = a * A + b * B + c * C;
        if (Math.Abs(det) < 1e-12) throw new ArgumentException("3x3 matrix is singular");
        return new double[,]
        {
            { A / det, -(b * i - c * h) / det, (b * f - c * e) / det },
            { B / det, (a * i - c * g) / det, -(a * f - c * d) / det },
            { C / det, -(a * h - b * g) / det, (a * e - b * d) / det },
        };
    }
}
