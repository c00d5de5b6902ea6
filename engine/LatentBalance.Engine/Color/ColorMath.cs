using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Color;

/// <summary>
/// Colour maths of the distortion ops beyond <see cref="ColorSpaces"/> (which has the sRGB curve and the
/// XYZ matrices): Bradford adaptation, Rec.709 luminance, CIE 1960 UCS and the chromaticity of the
/// daylight/Planckian locus. Images are [N,3,H,W] float32.
/// </summary>
internal static class ColorMath
{
    /// <summary>Bradford cone-response matrix (XYZ -> sharpened LMS).</summary>
    public static readonly double[,] Bradford =
    {
        { 0.8951, 0.2664, -0.1614 },
        { -0.7502, 1.7135, 0.0367 },
        { 0.0389, -0.0685, 1.0296 },
    };

    public static readonly double[,] BradfordInverse = ColorSpaces.Invert(Bradford);

    // ---- tensor helpers --------------------------------------------------------------------

    /// <summary>Per-channel multiply of an [N,3,H,W] tensor by (a0, a1, a2).</summary>
    public static Tensor ChannelVector(Tensor like, double a0, double a1, double a2) =>
        tensor(new[] { (float)a0, (float)a1, (float)a2 }, new long[] { 1, 3, 1, 1 }, dtype: ScalarType.Float32, device: like.device);

    /// <summary>Rec.709 / sRGB relative luminance of linear RGB, shape [N,1,H,W].</summary>
    public static Tensor Luminance(Tensor lin) =>
        (lin * ChannelVector(lin, ColorSpaces.LumaR, ColorSpaces.LumaG, ColorSpaces.LumaB)).sum(1, keepdim: true);

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
}
