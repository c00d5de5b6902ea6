using NetVips;

namespace LatentBalance.Engine.Imaging;

/// <summary>Limits and checks applied when opening a photo.</summary>
public sealed class PhotoReaderOptions
{
    /// <summary>Photos with more pixels than this (in millions) are refused before any decoding.</summary>
    public double MaxMegapixels { get; init; } = 200;

    /// <summary>libvips fail_on level. <see cref="Enums.FailOn.Error"/> makes truncated or corrupt
    /// files fail instead of decoding to grey.</summary>
    public Enums.FailOn FailOn { get; init; } = Enums.FailOn.Error;

    /// <summary>Decode every pixel once at open so truncated/corrupt data is reported by
    /// <see cref="PhotoReader.Open"/> rather than later. Costs one full decode.</summary>
    public bool VerifyPixels { get; init; }

    public static PhotoReaderOptions Default { get; } = new();
}
