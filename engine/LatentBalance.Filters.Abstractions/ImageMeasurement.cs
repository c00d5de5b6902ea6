namespace LatentBalance.Filters;

/// <summary>
/// Colour statistics of an image (measured on a small copy of the whole frame, in the sRGB working space;
/// transparent pixels ignored). Means are per channel, 0..1.
/// </summary>
public sealed record ImageMeasurement
{
    public int Width { get; init; }
    public int Height { get; init; }
    /// <summary>Mean of the sRGB-encoded values (R, G, B).</summary>
    public required double[] MeanSrgb { get; init; }
    /// <summary>Mean of the linear-light values (R, G, B).</summary>
    public required double[] MeanLinear { get; init; }
    /// <summary>Pixels measured.</summary>
    public int SampleCount { get; init; }
}
