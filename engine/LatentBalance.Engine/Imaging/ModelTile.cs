using LatentBalance.Engine.Color;
using TorchSharp;

namespace LatentBalance.Engine.Imaging;

/// <summary>
/// The model's input tile: the whole photo fitted into <see cref="Size"/>x<see cref="Size"/> keeping its
/// aspect ratio, centred, the rest padded. RGB in [0,1], channel-major (CHW). <see cref="Mask"/> is true
/// on photo pixels (and false where alpha is below half), so padding stays out of colour fits.
/// </summary>
public sealed class ModelTile
{
    public ModelTile(int size, float[] chw, bool[] mask, int contentX, int contentY, int contentWidth, int contentHeight)
    {
        if (chw.Length != 3 * size * size) throw new ArgumentException($"a {size}x{size} tile needs {3 * size * size} values, got {chw.Length}");
        if (mask.Length != size * size) throw new ArgumentException($"a {size}x{size} mask needs {size * size} values, got {mask.Length}");
        Size = size;
        Chw = chw;
        Mask = mask;
        ContentX = contentX;
        ContentY = contentY;
        ContentWidth = contentWidth;
        ContentHeight = contentHeight;
    }

    public int Size { get; }

    /// <summary>R plane, then G, then B; each row-major, values in [0,1].</summary>
    public float[] Chw { get; }

    /// <summary>Row-major, true where the pixel belongs to the photo.</summary>
    public bool[] Mask { get; }

    /// <summary>The photo's rectangle inside the tile.</summary>
    public int ContentX { get; }
    public int ContentY { get; }
    public int ContentWidth { get; }
    public int ContentHeight { get; }

    public int ValidCount => Mask.Count(m => m);

    /// <summary>The value of channel <paramref name="c"/> at (x, y).</summary>
    public float this[int c, int y, int x] => Chw[(c * Size + y) * Size + x];

    /// <summary>Mean R, G, B of the photo pixels, sRGB-encoded and in linear light, and how many were measured.</summary>
    public (double[] Srgb, double[] Linear, int Count) ChannelMeans()
    {
        int plane = Size * Size, n = 0;
        double[] srgb = new double[3], linear = new double[3];
        for (int i = 0; i < plane; i++)
        {
            if (!Mask[i]) continue;
            n++;
            for (int c = 0; c < 3; c++)
            {
                double v = Chw[c * plane + i];
                srgb[c] += v;
                linear[c] += ColorSpaces.SrgbToLinear(v);
            }
        }
        for (int c = 0; c < 3; c++) { srgb[c] /= Math.Max(n, 1); linear[c] /= Math.Max(n, 1); }
        return (srgb, linear, n);
    }

    /// <summary>The photo's pixels (where <see cref="Mask"/> is true), interleaved RGB.</summary>
    public float[] MaskedPixels()
    {
        int plane = Size * Size;
        var rgb = new List<float>(3 * plane);
        for (int i = 0; i < plane; i++)
            if (Mask[i]) { rgb.Add(Chw[i]); rgb.Add(Chw[plane + i]); rgb.Add(Chw[2 * plane + i]); }
        return [.. rgb];
    }

    /// <summary>Float32 tensor [1, 3, Size, Size].</summary>
    public torch.Tensor ToTensor(torch.Device? device = null)
    {
        var t = torch.tensor(Chw, [1, 3, Size, Size]);
        return device == null ? t : t.to(device);
    }

    /// <summary>Bool tensor [1, 1, Size, Size], true on photo pixels.</summary>
    public torch.Tensor MaskTensor(torch.Device? device = null)
    {
        var t = torch.tensor(Mask, [1, 1, Size, Size]);
        return device == null ? t : t.to(device);
    }
}
