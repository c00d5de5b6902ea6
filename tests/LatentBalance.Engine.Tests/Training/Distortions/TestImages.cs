using static TorchSharp.torch;

namespace LatentBalance.Engine.Tests.Training.Distortions;

/// <summary>Synthetic test images for the distortion tests, all float32 [3,H,W] in [0,1].</summary>
internal static class TestImages
{
    /// <summary>
    /// Hue sweep left to right; top half goes from pale to fully saturated at full value, bottom half
    /// from full value to dark at full saturation; a grey ramp in the bottom eighth.
    /// </summary>
    public static Tensor Colourful(int h = 64, int w = 64, double phase = 0)
    {
        var data = new float[3 * h * w];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                double hue = (x / (double)w * 360 + phase) % 360;
                double t = y / (double)(h - 1);
                double s, v;
                if (y >= h * 7 / 8) { s = 0; v = x / (double)(w - 1); }
                else if (t < 0.5) { s = 0.25 + 1.5 * t; v = 0.95; }
                else { s = 0.9; v = 0.95 - 1.6 * (t - 0.5); }
                var (r, g, b) = Hsv(hue, s, v);
                data[(0 * h + y) * w + x] = (float)r;
                data[(1 * h + y) * w + x] = (float)g;
                data[(2 * h + y) * w + x] = (float)b;
            }
        return tensor(data, new long[] { 3, h, w });
    }

    public static Tensor Grey(double level, int h = 8, int w = 8) => full(new long[] { 3, h, w }, (float)level);

    /// <summary>A grey ramp 0..1 along x.</summary>
    public static Tensor GreyRamp(int h = 4, int w = 64) =>
        linspace(0, 1, w).reshape(1, 1, w).expand(3, h, w).contiguous();

    public static (double r, double g, double b) Hsv(double hue, double s, double v)
    {
        double c = v * s, hp = hue / 60.0, x = c * (1 - Math.Abs(hp % 2 - 1)), m = v - c;
        var (r, g, b) = (int)Math.Floor(hp) switch
        {
            0 => (c, x, 0.0), 1 => (x, c, 0.0), 2 => (0.0, c, x),
            3 => (0.0, x, c), 4 => (x, 0.0, c), _ => (c, 0.0, x),
        };
        return (r + m, g + m, b + m);
    }

    public static float[] Values(Tensor t) => t.contiguous().data<float>().ToArray();

    public static double MaxAbsDiff(Tensor a, Tensor b)
    {
        using var d = (a - b).abs().max();
        return d.item<float>();
    }

    public static double ChannelMean(Tensor img, int c)
    {
        using var m = (img.dim() == 3 ? img[c] : img[.., c]).mean();
        return m.item<float>();
    }
}
