using LatentBalance.Engine.Color;

namespace LatentBalance.Engine.Pipeline;

/// <summary>
/// Step 6a, and the daemon's filter host: bakes a colour map into a 3D LUT by evaluating the grid points
/// (the map is exact at the grid points; the LUT interpolates between). Outputs are clamped to 0..1, NaN to 0.
/// </summary>
public static class LutBaker
{
    public const int DefaultSize = 33;

    /// <summary>A chain of colour maps (the fitted maps, one per iteration), each output clamped before the next.</summary>
    public static Lut3D Bake(IReadOnlyList<ColorMap> maps, int size = DefaultSize, string? title = null) =>
        Bake((r, g, b) =>
        {
            foreach (var m in maps)
            {
                var (r1, g1, b1) = m.Map(r, g, b);
                (r, g, b) = (Math.Clamp(r1, 0f, 1f), Math.Clamp(g1, 0f, 1f), Math.Clamp(b1, 0f, 1f));
            }
            return (r, g, b);
        }, size, title);

    /// <summary>A map of one sRGB-encoded colour; it must be pure and thread-safe (the grid is sampled in parallel).</summary>
    public static Lut3D Bake(Func<float, float, float, (float R, float G, float B)> map, int size = DefaultSize, string? title = null) =>
        Bake(grid =>
        {
            var data = new float[grid.Length];
            Parallel.For(0, grid.Length / 3, p =>
            {
                int i = 3 * p;
                (data[i], data[i + 1], data[i + 2]) = map(grid[i], grid[i + 1], grid[i + 2]);
            });
            return data;
        }, size, title);

    /// <summary>The one baker: the identity grid of <paramref name="size"/>^3 points (RGB interleaved, red fastest) through <paramref name="mapGrid"/>.</summary>
    static Lut3D Bake(Func<float[], float[]> mapGrid, int size, string? title)
    {
        var data = mapGrid(Lut3D.Identity(size).Data);
        for (int i = 0; i < data.Length; i++) data[i] = float.IsNaN(data[i]) ? 0f : Math.Clamp(data[i], 0f, 1f);
        return new Lut3D(size, data) { Title = title };
    }
}
