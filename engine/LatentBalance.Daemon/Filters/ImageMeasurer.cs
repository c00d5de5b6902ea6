using LatentBalance.Engine.Imaging;
using LatentBalance.Filters;

namespace LatentBalance.Daemon.Filters;

/// <summary>Channel means of a photo, measured on the model tile (whole frame shrunk on load; padding ignored).</summary>
public static class ImageMeasurer
{
    public static ImageMeasurement Measure(string path)
    {
        var source = PhotoReader.Open(path);
        var (srgb, linear, n) = ThumbnailFit.FromSource(source).ChannelMeans();
        if (n == 0) throw new ImageInputException(path, "no opaque pixels to measure");
        return new ImageMeasurement { Width = source.Width, Height = source.Height, MeanSrgb = srgb, MeanLinear = linear, SampleCount = n };
    }
}
