using LatentBalance.Engine.Pipeline;
using LatentBalance.Engine.Color;

namespace LatentBalance.Engine.Tests.Pipeline;

public class LutBakerTests
{
    [Fact]
    public void A_function_is_sampled_on_the_grid_clamped_with_NaN_to_zero()
    {
        var lut = LutBaker.Bake((r, g, b) => (b, 2 * g, r < 0.5f ? float.NaN : -r), 5, "t");
        Assert.Equal(5, lut.Size);
        Assert.Equal("t", lut.Title);
        int i = lut.Index(1, 1, 3); // r 0.25, g 0.25, b 0.75
        Assert.Equal([0.75f, 0.5f, 0f], lut.Data[i..(i + 3)]);
        i = lut.Index(4, 3, 0); // r 1, g 0.75
        Assert.Equal([0f, 1f, 0f], lut.Data[i..(i + 3)]);
        Assert.Throws<ArgumentOutOfRangeException>(() => LutBaker.Bake((r, g, b) => (r, g, b), 1));
    }

    [Fact]
    public void A_map_chain_bakes_the_same_LUT_as_the_same_maps_as_a_function()
    {
        // a fitted map of a strong cast (a 16-pixel ramp to a warmer copy), chained twice
        var src = new float[3 * 16];
        var dst = new float[3 * 16];
        for (int p = 0; p < 16; p++)
            for (int c = 0; c < 3; c++) { src[c * 16 + p] = (p + c) / 18f; dst[c * 16 + p] = Math.Clamp(src[c * 16 + p] * (1.2f - 0.2f * c), 0f, 1f); }
        var m = ColorMapFitter.Fit(src, dst, default, new ColorMapFitOptions { Hidden = 8 });
        var fromMaps = LutBaker.Bake([m, m], 9);
        static float Clamp(float v) => Math.Clamp(v, 0f, 1f);
        (float, float, float) Step(float r, float g, float b) { var (r1, g1, b1) = m.Map(r, g, b); return (Clamp(r1), Clamp(g1), Clamp(b1)); }
        var fromFunction = LutBaker.Bake((r, g, b) => { var (r1, g1, b1) = Step(r, g, b); return Step(r1, g1, b1); }, 9);
        Assert.Equal(fromFunction.Data, fromMaps.Data);
        Assert.NotEqual(Lut3D.Identity(9).Data, fromMaps.Data);
    }
}
