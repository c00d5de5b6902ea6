using LatentBalance.Engine.Color;

namespace LatentBalance.Engine.Tests.Color;

public class GreyWorldTests
{
    [Fact]
    public void Full_gains_equalise_the_linear_means_and_strength_blends_in_log_space()
    {
        double[] means = [0.30, 0.20, 0.10];
        var g = GreyWorld.Gains(means);
        for (int c = 0; c < 3; c++) Assert.Equal(0.20, means[c] * g[c], 12);
        Assert.Equal([1.0, 1.0, 1.0], GreyWorld.Gains(means, strength: 0));
        var half = GreyWorld.Gains(means, strength: 0.5);
        for (int c = 0; c < 3; c++) Assert.Equal(Math.Sqrt(g[c]), half[c], 12);
    }

    [Fact]
    public void Gains_are_limited_and_black_is_left_alone()
    {
        var g = GreyWorld.Gains([0.9, 0.001, 0.9]);
        Assert.Equal(GreyWorld.MaxGain, g[1], 12);
        Assert.Equal([1.0, 1.0, 1.0], GreyWorld.Gains([0, 0, 0]));
        Assert.Throws<ArgumentException>(() => GreyWorld.Gains([0.5, 0.5]));
    }

    [Fact]
    public void Map_scales_in_linear_light_and_clamps()
    {
        var map = GreyWorld.Map([2.0, 1.0, 0.5]);
        var (r, g, b) = map(0.5f, 0.5f, 0.5f);
        Assert.Equal(ColorSpaces.LinearToSrgb(2 * ColorSpaces.SrgbToLinear(0.5)), r, 6);
        Assert.Equal(0.5f, g, 6);
        Assert.Equal(ColorSpaces.LinearToSrgb(0.5 * ColorSpaces.SrgbToLinear(0.5)), b, 6);
        Assert.Equal(1f, map(0.9f, 0f, 0f).R);
    }
}
