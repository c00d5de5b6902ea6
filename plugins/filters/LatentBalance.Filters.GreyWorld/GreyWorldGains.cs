namespace LatentBalance.Filters.GreyWorld;

/// <summary>Per-channel gains that bring the channel means to their common mean.</summary>
public static class GreyWorldGains
{
    /// <param name="meanLinear">mean R, G, B in linear light.</param>
    /// <param name="strength">0: identity gains, 1: the full correction (blended in log space).</param>
    /// <param name="maxGain">gains are clamped to [1/maxGain, maxGain].</param>
    public static double[] Compute(IReadOnlyList<double> meanLinear, double strength, double maxGain)
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
}
