using LatentBalance.Engine.Color;
using LatentBalance.Filters;

namespace LatentBalance.Daemon.Filters;

/// <summary>Samples an <see cref="IColorMap"/> on a regular grid into a 3D LUT (outputs clamped to 0..1, NaN to 0).</summary>
public static class ColorMapLut
{
    public static Lut3D Bake(IColorMap map, int size, string? title = null)
    {
        if (size is < 2 or > 256) throw new ArgumentOutOfRangeException(nameof(size), size, "LUT size must be 2..256");
        var data = new float[size * size * size * 3];
        float s = size - 1;
        Parallel.For(0, size, b =>
        {
            int i = b * size * size * 3;
            for (int g = 0; g < size; g++)
                for (int r = 0; r < size; r++)
                {
                    var (mr, mg, mb) = map.Map(r / s, g / s, b / s);
                    data[i++] = Clamp(mr); data[i++] = Clamp(mg); data[i++] = Clamp(mb);
                }
        });
        return new Lut3D(size, data) { Title = title };
    }

    static float Clamp(float v) => float.IsNaN(v) ? 0f : Math.Clamp(v, 0f, 1f);
}
