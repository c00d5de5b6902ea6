using LatentBalance.Engine.Imaging;

namespace LatentBalance.Engine.Pipeline;

/// <summary>
/// How much colour information a tile holds for the colour-map fit, as a damping factor in [0, 1]
/// for the correction. A near-black, near-white or flat photo gives the fit almost nothing to go
/// on, and a map fitted on a few near-identical colours extrapolates freely to the rest of the cube
/// (black came out brown, grey blue-ish); such a correction is damped toward the identity.
/// Factor = min(1, share of pixels with luma in [0.04, 0.96] / 0.25) x clamp((spread - 0.005) / 0.025, 0, 1),
/// the spread being the mean over channels of each channel's standard deviation over the photo's
/// pixels (below 0.005, about one 8-bit level of resampling noise, a photo counts as flat).
/// A real photo gets 1 (no change); pure black, pure white and a flat colour get 0.
/// </summary>
public static class ColorInformation
{
    public const double MinInformativeShare = 0.25, FlatSpread = 0.005, FullSpread = 0.03;
    const float Dark = 0.04f, Bright = 0.96f;

    public static double Damping(ModelTile tile)
    {
        int n = tile.Size * tile.Size, plane = n, count = 0, informative = 0;
        var sum = new double[3]; var sq = new double[3];
        for (int i = 0; i < n; i++)
        {
            if (!tile.Mask[i]) continue;
            float r = tile.Chw[i], g = tile.Chw[plane + i], b = tile.Chw[2 * plane + i];
            count++;
            float luma = 0.2126f * r + 0.7152f * g + 0.0722f * b;
            if (luma >= Dark && luma <= Bright) informative++;
            sum[0] += r; sum[1] += g; sum[2] += b;
            sq[0] += r * r; sq[1] += g * g; sq[2] += b * b;
        }
        if (count == 0) return 0;
        double spread = 0;
        for (int c = 0; c < 3; c++)
        {
            double mean = sum[c] / count;
            spread += Math.Sqrt(Math.Max(0, sq[c] / count - mean * mean)) / 3;
        }
        return Math.Min(1, (double)informative / count / MinInformativeShare) * Math.Clamp((spread - FlatSpread) / (FullSpread - FlatSpread), 0, 1);
    }
}
