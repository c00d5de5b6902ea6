namespace LatentBalance.Engine.Color;

/// <summary>
/// The grey-world assumption: the average colour of a scene is neutral grey. Per-channel gains in linear
/// light bring the channel means to their common mean (keeping the mean luminance). The one copy: the
/// grey-world filter plug-in compiles this file, and the evaluator's grey-world baseline calls it the same way.
/// </summary>
public static class GreyWorld
{
    /// <summary>Gains are limited to this factor either way, so a one-colour picture is not blown out.</summary>
    public const double MaxGain = 4.0;

    /// <param name="meanLinear">mean R, G, B in linear light.</param>
    /// <param name="strength">0: identity gains, 1: the full correction (blended in log space).</param>
    /// <param name="maxGain">gains are clamped to [1/maxGain, maxGain].</param>
    public static double[] Gains(IReadOnlyList<double> meanLinear, double strength = 1, double maxGain = MaxGain)
    {
        if (meanLinear.Count != 3) throw new ArgumentException($"expected 3 channel means, got {meanLinear.Count}");
        const double eps = 1e-4;
        double grey = (meanLinear[0] + meanLinear[1] + meanLinear[2]) / 3;
        var gains = new double[3];
        for (int c = 0; c < 3; c++)
        {
            double full = grey < eps ? 1 : Math.Clamp(grey / Math.Max(meanLinear[c], eps), 1 / maxGain, maxGain);
            gains[c] = Math.Exp(strength * Math.Log(full));
        }
        return gains;
    }

    /// <summary>The colour map on sRGB-encoded values: each channel scaled by its gain in linear light, clamped to 0..1.</summary>
    public static Func<float, float, float, (float R, float G, float B)> Map(double[] gains) =>
        (r, g, b) => (Scale(r, gains[0]), Scale(g, gains[1]), Scale(b, gains[2]));

    static float Scale(float encoded, double gain) =>
        (float)Math.Clamp(ColorSpaces.LinearToSrgb(Math.Clamp(ColorSpaces.SrgbToLinear(encoded) * gain, 0, 1)), 0, 1);
}
