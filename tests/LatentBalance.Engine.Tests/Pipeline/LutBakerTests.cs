using LatentBalance.Engine.Pipeline;
using TorchSharp;
using static TorchSharp.torch;

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
    public void A_module_chain_bakes_the_same_LUT_as_the_same_map_as_a_function()
    {
        using var scope = NewDisposeScope();
        var m = nn.Linear(3, 3);
        using (no_grad())
        {
            m.weight!.copy_(tensor(new float[] { 0.9f, 0.1f, 0f, 0f, 1.1f, 0f, 0.2f, 0f, 0.7f }, [3, 3]));
            m.bias!.copy_(tensor(new float[] { 0.02f, -0.05f, 0.1f }));
        }
        var fromModules = LutBaker.Bake([m, m], 9);
        static float Clamp(float v) => Math.Clamp(v, 0f, 1f);
        static (float, float, float) Step(float r, float g, float b) =>
            (Clamp(0.9f * r + 0.1f * g + 0.02f), Clamp(1.1f * g - 0.05f), Clamp(0.2f * r + 0.7f * b + 0.1f));
        var fromFunction = LutBaker.Bake((r, g, b) => { var (r1, g1, b1) = Step(r, g, b); return Step(r1, g1, b1); }, 9);
        Assert.Equal(fromFunction.Data.Length, fromModules.Data.Length);
        for (int i = 0; i < fromModules.Data.Length; i++) Assert.Equal(fromFunction.Data[i], fromModules.Data[i], 5);
    }
}
