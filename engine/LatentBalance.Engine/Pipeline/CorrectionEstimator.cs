using System.Diagnostics;

namespace LatentBalance.Engine.Pipeline;

/// <summary>
/// Steps 2 to 5 of the method on one tile: the networks encode, balance and decode both latents
/// (<see cref="ICorrectionNetworks"/>, on either runtime), then the colour map is fitted from the
/// distorted decode to the balanced decode over the photo's pixels (the padding is masked out).
/// </summary>
public sealed class CorrectionEstimator(ICorrectionNetworks networks)
{
    /// <param name="tile">CHW [3, S, S] in [0, 1].</param>
    /// <param name="mask">[S, S] row-major, true on the photo's pixels.</param>
    /// <param name="strength">Receives the strength the balancer applied (its strength head's, else 1).</param>
    public ColorMap Estimate(float[] tile, bool[] mask, int size, ColorMapFitOptions fit, Action<string, double>? timing = null, Action<double>? strength = null)
    {
        var decodes = networks.Decode(tile, size, timing);
        strength?.Invoke(decodes.Strength);
        return Fit(decodes, mask, size, fit, timing);
    }

    /// <summary>Step 5 alone: the colour map from <paramref name="decodes"/>' source to its target.</summary>
    public static ColorMap Fit(TileDecodes decodes, bool[] mask, int size, ColorMapFitOptions fit, Action<string, double>? timing = null)
    {
        var t0 = Stopwatch.GetTimestamp();
        var map = ColorMapFitter.Fit(decodes.Source, decodes.Target, mask, fit);
        timing?.Invoke("fit", Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        return map;
    }
}
