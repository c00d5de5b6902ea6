namespace LatentBalance.Engine.Color;

/// <summary>
/// sRGB (IEC 61966-2-1) transfer function, linear sRGB &lt;-&gt; CIE XYZ (D65) and XYZ &lt;-&gt;
/// CIELAB with the D65 white of the sRGB matrix (so sRGB white is exactly L=100, a=b=0).
/// Scalar, interleaved-span (RGBRGB...) and tensor (channel axis -3: [3,H,W] or [N,3,H,W]) forms.
/// sRGB values are nominally in [0,1]; the transfer curves are extended to negatives by odd symmetry.
/// XYZ is scaled so that Y(white) = 1; L* is 0..100. The only copy of this maths: the tensor forms
/// (ColorSpaces.Tensor.cs) use these constants, and the grey-world plug-in compiles this file (no TorchSharp here).
/// </summary>
public static partial class ColorSpaces
{
    /// <summary>Linear sRGB to XYZ, derived from the sRGB primaries and D65 (x=0.3127, y=0.3290).</summary>
    public static readonly double[,] RgbToXyzMatrix =
    {
        { 0.41239079926595934, 0.35758433938387796, 0.18048078840183429 },
        { 0.21263900587151036, 0.71516867876775593, 0.07219231536073371 },
        { 0.01933081871559185, 0.11919477979462599, 0.95053215224966058 },
    };

    /// <summary>Inverse of <see cref="RgbToXyzMatrix"/>.</summary>
    public static readonly double[,] XyzToRgbMatrix = Invert(RgbToXyzMatrix);

    /// <summary>D65 white (XYZ of sRGB (1,1,1)), Y = 1.</summary>
    public static readonly double WhiteX = RgbToXyzMatrix[0, 0] + RgbToXyzMatrix[0, 1] + RgbToXyzMatrix[0, 2];
    public static readonly double WhiteY = 1.0;
    public static readonly double WhiteZ = RgbToXyzMatrix[2, 0] + RgbToXyzMatrix[2, 1] + RgbToXyzMatrix[2, 2];

    /// <summary>Rec.709 / sRGB relative luminance weights of linear RGB: the Y row of <see cref="RgbToXyzMatrix"/>.</summary>
    public static readonly double LumaR = RgbToXyzMatrix[1, 0], LumaG = RgbToXyzMatrix[1, 1], LumaB = RgbToXyzMatrix[1, 2];

    // the sRGB curve: linear segment up to the knee (encoded EncodedKnee, linear LinearKnee), power segment above
    const double EncodedKnee = 0.04045, LinearKnee = 0.0031308, Slope = 12.92, Offset = 0.055, Scale = 1.055, Gamma = 2.4;

    const double Delta = 6.0 / 29.0;
    const double Delta3 = Delta * Delta * Delta;       // 216/24389
    const double LinSlope = 1.0 / (3 * Delta * Delta); // 841/108

    // ---------- scalar ----------

    public static double SrgbToLinear(double c)
    {
        double a = Math.Abs(c);
        double l = a <= EncodedKnee ? a / Slope : Math.Pow((a + Offset) / Scale, Gamma);
        return c < 0 ? -l : l;
    }

    public static double LinearToSrgb(double l)
    {
        double a = Math.Abs(l);
        double c = a <= LinearKnee ? a * Slope : Scale * Math.Pow(a, 1 / Gamma) - Offset;
        return l < 0 ? -c : c;
    }

    public static (double X, double Y, double Z) LinearRgbToXyz(double r, double g, double b)
    {
        var m = RgbToXyzMatrix;
        return (m[0, 0] * r + m[0, 1] * g + m[0, 2] * b,
                m[1, 0] * r + m[1, 1] * g + m[1, 2] * b,
                m[2, 0] * r + m[2, 1] * g + m[2, 2] * b);
    }

    public static (double R, double G, double B) XyzToLinearRgb(double x, double y, double z)
    {
        var m = XyzToRgbMatrix;
        return (m[0, 0] * x + m[0, 1] * y + m[0, 2] * z,
                m[1, 0] * x + m[1, 1] * y + m[1, 2] * z,
                m[2, 0] * x + m[2, 1] * y + m[2, 2] * z);
    }

    static double LabF(double t) => t > Delta3 ? Math.Cbrt(t) : t * LinSlope + 4.0 / 29.0;
    static double LabFInv(double f) => f > Delta ? f * f * f : (f - 4.0 / 29.0) / LinSlope;

    public static (double L, double A, double B) XyzToLab(double x, double y, double z)
    {
        double fx = LabF(x / WhiteX), fy = LabF(y / WhiteY), fz = LabF(z / WhiteZ);
        return (116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz));
    }

    public static (double X, double Y, double Z) LabToXyz(double l, double a, double b)
    {
        double fy = (l + 16) / 116, fx = fy + a / 500, fz = fy - b / 200;
        return (WhiteX * LabFInv(fx), WhiteY * LabFInv(fy), WhiteZ * LabFInv(fz));
    }

    public static (double L, double A, double B) SrgbToLab(double r, double g, double b)
    {
        var (x, y, z) = LinearRgbToXyz(SrgbToLinear(r), SrgbToLinear(g), SrgbToLinear(b));
        return XyzToLab(x, y, z);
    }

    public static (double R, double G, double B) LabToSrgb(double l, double a, double b)
    {
        var (x, y, z) = LabToXyz(l, a, b);
        var (r, g, bb) = XyzToLinearRgb(x, y, z);
        return (LinearToSrgb(r), LinearToSrgb(g), LinearToSrgb(bb));
    }

    // ---------- interleaved spans (RGBRGB...); source and destination may be the same span ----------

    public static void SrgbToLinear(ReadOnlySpan<float> src, Span<float> dst)
    {
        CheckSame(src.Length, dst.Length, 1);
        for (int i = 0; i < src.Length; i++) dst[i] = (float)SrgbToLinear(src[i]);
    }

    public static void LinearToSrgb(ReadOnlySpan<float> src, Span<float> dst)
    {
        CheckSame(src.Length, dst.Length, 1);
        for (int i = 0; i < src.Length; i++) dst[i] = (float)LinearToSrgb(src[i]);
    }

    public static void LinearRgbToXyz(ReadOnlySpan<float> rgb, Span<float> xyz) => Map3(rgb, xyz, LinearRgbToXyz);
    public static void XyzToLinearRgb(ReadOnlySpan<float> xyz, Span<float> rgb) => Map3(xyz, rgb, XyzToLinearRgb);
    public static void XyzToLab(ReadOnlySpan<float> xyz, Span<float> lab) => Map3(xyz, lab, XyzToLab);
    public static void LabToXyz(ReadOnlySpan<float> lab, Span<float> xyz) => Map3(lab, xyz, LabToXyz);
    public static void SrgbToLab(ReadOnlySpan<float> rgb, Span<float> lab) => Map3(rgb, lab, SrgbToLab);
    public static void LabToSrgb(ReadOnlySpan<float> lab, Span<float> rgb) => Map3(lab, rgb, LabToSrgb);

    static void Map3(ReadOnlySpan<float> src, Span<float> dst, Func<double, double, double, (double, double, double)> f)
    {
        CheckSame(src.Length, dst.Length, 3);
        for (int i = 0; i < src.Length; i += 3)
        {
            var (p, q, r) = f(src[i], src[i + 1], src[i + 2]);
            dst[i] = (float)p; dst[i + 1] = (float)q; dst[i + 2] = (float)r;
        }
    }

    static void CheckSame(int a, int b, int multiple)
    {
        if (a != b) throw new ArgumentException($"source has {a} values but destination has {b}");
        if (a % multiple != 0) throw new ArgumentException($"span length {a} is not a multiple of {multiple} (interleaved RGB expected)");
    }

    internal static double[,] Invert(double[,] m)
    {
        double a = m[0, 0], b = m[0, 1], c = m[0, 2], d = m[1, 0], e = m[1, 1], f = m[1, 2], g = m[2, 0], h = m[2, 1], k = m[2, 2];
        double A = e * k - f * h, B = -(d * k - f * g), C = d * h - e * g;
        double det = a * A + b * B + c * C;
        return new[,]
        {
            { A / det, -(b * k - c * h) / det, (b * f - c * e) / det },
            { B / det, (a * k - c * g) / det, -(a * f - c * d) / det },
            { C / det, -(a * h - b * g) / det, (a * e - b * d) / det },
        };
    }
}
