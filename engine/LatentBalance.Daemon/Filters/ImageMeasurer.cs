using LatentBalance.Engine.Imaging;
using LatentBalance.Filters;

namespace LatentBalance.Daemon.Filters;

/// <summary>Channel means of a photo, measured on the model tile (whole frame shrunk on load; padding ignored).</summary>
public static class ImageMeasurer
{
    public static ImageMeasurement Measure(string path)
    {
        var source = PhotoReader.Open(path);
        var tile = ThumbnailFit.FromSource(source);
        int plane = tile.Size * tile.Size;
        var srgb = new double[3];
        var linear = new double[3];
        int n = 0;
        for (int i = 0; i < plane; i++)
        {
            if (!tile.Mask[i]) continue;
            n++;
            for (int c = 0; c < 3; c++)
            {
                double v = tile.Chw[c * plane + i];
                srgb[c] += v;
                linear[c] += v <= 0.04045 ? v / 12.92 : Math.Pow((v + 0.055) / 1.055, 2.4);
            }
        }
        if (n == 0) throw new ImageInputException(path, "no opaque pixels to measure");
        for (int c = 0; c < 3; c++) { srgb[c] /= n; linear[c] /= n; }
        return new ImageMeasurement { Width = source.Width, Height = source.Height, MeanSrgb = srgb, MeanLinear = linear, SampleCount = n };
    }
}
