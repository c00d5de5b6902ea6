namespace LatentBalance.Filters.GreyWorld;

/// <summary>The sRGB transfer curve (IEC 61966-2-1), and a gain applied in linear light.</summary>
public static class SrgbCurve
{
    public static double ToLinear(double v) => v <= 0.04045 ? v / 12.92 : Math.Pow((v + 0.055) / 1.055, 2.4);

    public static double FromLinear(double v) => v <= 0.0031308 ? v * 12.92 : 1.055 * Math.Pow(v, 1 / 2.4) - 0.055;

    /// <summary>Scales an sRGB-encoded value by <paramref name="gain"/> in linear light, clamped to 0..1.</summary>
    public static float Scale(float encoded, double gain) =>
        (float)Math.Clamp(FromLinear(Math.Clamp(ToLinear(encoded) * gain, 0, 1)), 0, 1);
}
