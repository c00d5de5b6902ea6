using LatentBalance.Engine.Color;
using LatentBalance.Training.Distortions;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Tests.Training.Distortions;

/// <summary>Checks of the individual ops against what they are meant to do.</summary>
public class ColourOpTests
{
    static double RbRatio(Tensor img) => TestImages.ChannelMean(img, 0) / TestImages.ChannelMean(img, 2);

    [Fact]
    public void WhiteBalance_At6500KWithoutTint_IsIdentity()
    {
        var op = new WhiteBalanceDistortion(6500, 0);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                Assert.Equal(i == j ? 1.0 : 0.0, op.Matrix[i, j], 9);
        var img = TestImages.Colourful();
        using var outp = op.Apply(img);
        Assert.True(TestImages.MaxAbsDiff(img, outp) < 1e-4, $"max diff {TestImages.MaxAbsDiff(img, outp)}");
    }

    [Fact]
    public void WhiteBalance_WarmerTemperature_RaisesRedOverBlue_OnGrey()
    {
        var grey = TestImages.Grey(0.5);
        double baseRatio = RbRatio(grey);
        double previous = baseRatio;
        foreach (var k in new[] { 5500.0, 4500, 3500, 2800 })
        {
            using var warm = new WhiteBalanceDistortion(k, 0).Apply(grey);
            double ratio = RbRatio(warm);
            Assert.True(ratio > previous + 0.02, $"{k} K: R/B {ratio:0.000} should exceed {previous:0.000}");
            previous = ratio;
        }
        using var cool = new WhiteBalanceDistortion(10000, 0).Apply(grey);
        Assert.True(RbRatio(cool) < baseRatio - 0.05, $"10000 K should be bluer: R/B {RbRatio(cool):0.000}");
    }

    [Fact]
    public void WhiteBalance_TintMovesGreenMagenta_AndKeepsNeutralLuminance()
    {
        var grey = TestImages.Grey(0.4);
        using var green = new WhiteBalanceDistortion(6500, +0.01).Apply(grey);
        using var magenta = new WhiteBalanceDistortion(6500, -0.01).Apply(grey);
        double g0 = TestImages.ChannelMean(green, 1), m0 = TestImages.ChannelMean(magenta, 1);
        Assert.True(g0 > TestImages.ChannelMean(green, 0) && g0 > TestImages.ChannelMean(green, 2), "positive Duv should make grey greenish");
        Assert.True(m0 < TestImages.ChannelMean(magenta, 0) && m0 < TestImages.ChannelMean(magenta, 2), "negative Duv should make grey magenta");

        // von Kries with equal-Y whites keeps the luminance of a neutral
        var m = new WhiteBalanceDistortion(3000, 0.01).Matrix;
        double yRow = 0;
        double[] luma = [0.2126729, 0.7151522, 0.0721750];
        for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) yRow += luma[i] * m[i, j];
        Assert.Equal(1.0, yRow, 3);
    }

    [Fact]
    public void Saturation_Zero_GivesGrey_One_IsIdentity()
    {
        var img = TestImages.Colourful();
        using var grey = new SaturationDistortion(0).Apply(img);
        Assert.True(TestImages.MaxAbsDiff(grey[0], grey[1]) < 1e-6 && TestImages.MaxAbsDiff(grey[1], grey[2]) < 1e-6, "R=G=B expected");
        using var same = new SaturationDistortion(1).Apply(img);
        Assert.True(TestImages.MaxAbsDiff(img, same) < 1e-4);
    }

    [Fact]
    public void CrossTalk_RowsSumToOne_AndGreyStaysGrey()
    {
        var op = new CrossTalkDistortion(new double[,] { { 2, 0.2, -0.1 }, { 0.1, 1, 0.1 }, { 0, 0.3, 0.9 } });
        for (int i = 0; i < 3; i++) Assert.Equal(1.0, op.Matrix[i, 0] + op.Matrix[i, 1] + op.Matrix[i, 2], 12);
        using var g = op.Apply(TestImages.GreyRamp());
        Assert.True(TestImages.MaxAbsDiff(g, TestImages.GreyRamp()) < 1e-4);
        using var c = op.Apply(TestImages.Colourful());
        Assert.True(TestImages.MaxAbsDiff(c, TestImages.Colourful()) > 0.02);
    }

    [Fact]
    public void ToneCurves_HitTheirAnchorPoints()
    {
        var ramp = TestImages.GreyRamp(1, 11); // 0, 0.1, ..., 1
        float[] V(IDistortion op) { using var o = op.Apply(ramp); return TestImages.Values(o[0, 0]); }

        var crush = V(new BlackPointDistortion(0.1));
        Assert.Equal(0f, crush[1], 5); Assert.Equal(1f, crush[10], 5);
        var lift = V(new BlackPointDistortion(-0.1));
        Assert.Equal(0.1f, lift[0], 5); Assert.Equal(1f, lift[10], 5);
        var fade = V(new FadeDistortion(0.1, 0.9));
        Assert.Equal(0.1f, fade[0], 5); Assert.Equal(0.9f, fade[10], 5);
        var s = V(new SCurveDistortion(0.8));
        Assert.Equal(0f, s[0], 5); Assert.Equal(0.5f, s[5], 5); Assert.Equal(1f, s[10], 5);
        Assert.True(s[2] < 0.2f && s[8] > 0.8f, "positive S-curve darkens shadows and brightens highlights");
        for (int i = 1; i < 11; i++) Assert.True(s[i] >= s[i - 1], "S-curve must be monotone");
        var up = V(new ExposureDistortion(1));
        Assert.True(up[3] > 0.3f); Assert.Equal(1f, up[10], 5);
        var down = V(new ExposureDistortion(-1));
        Assert.Equal(1.055 * Math.Pow(0.5, 1 / 2.4) - 0.055, down[10], 4); // white at half the linear light
    }

    [Fact]
    public void GainGamma_ActsPerChannel()
    {
        var grey = TestImages.Grey(0.5);
        using var o = new GainGammaDistortion([1.2, 1.0, 1.0], [1.0, 1.0, 2.0]).Apply(grey);
        Assert.Equal(0.6, TestImages.ChannelMean(o, 0), 4);
        Assert.Equal(0.5, TestImages.ChannelMean(o, 1), 4);
        Assert.Equal(0.25, TestImages.ChannelMean(o, 2), 4);
    }

    [Fact]
    public void SplitToning_TintsShadowsAndHighlightsDifferently()
    {
        var op = new SplitToningDistortion(shadowHue: 200, shadowStrength: 0.1, highlightHue: 30, highlightStrength: 0.1);
        using var dark = op.Apply(TestImages.Grey(0.1));
        using var bright = op.Apply(TestImages.Grey(0.9));
        Assert.True(TestImages.ChannelMean(dark, 2) > TestImages.ChannelMean(dark, 0) + 0.04, "teal shadows: blue above red");
        Assert.True(TestImages.ChannelMean(bright, 0) > TestImages.ChannelMean(bright, 2) + 0.04, "orange highlights: red above blue");
        foreach (var h in new[] { 0.0, 75, 150, 222, 300 })
        {
            var t = SplitToningDistortion.TintVector(h);
            Assert.Equal(0.0, ColorSpaces.LumaR * t[0] + ColorSpaces.LumaG * t[1] + ColorSpaces.LumaB * t[2], 12);
        }
    }

    [Fact]
    public void Lut_Identity_IsIdentity()
    {
        var img = TestImages.Colourful();
        foreach (var size in new[] { 2, 17, 33 })
        {
            using var o = new LutDistortion(Lut3D.Identity(size), 0, 1.0).Apply(img);
            Assert.True(TestImages.MaxAbsDiff(img, o) < 1e-5, $"identity LUT size {size}: max diff {TestImages.MaxAbsDiff(img, o)}");
        }
    }

    [Fact]
    public void Lut_AxisOrder_MatchesRedFastestLayout()
    {
        // out = (g, b, r): any axis mix-up in the volume or grid shows up as wrong channels.
        int n = 9;
        var d = new float[n * n * n * 3];
        var lut = new Lut3D(n, d);
        for (int b = 0; b < n; b++)
            for (int g = 0; g < n; g++)
                for (int r = 0; r < n; r++)
                {
                    int i = lut.Index(r, g, b);
                    d[i] = g / (n - 1f); d[i + 1] = b / (n - 1f); d[i + 2] = r / (n - 1f);
                }
        var img = TestImages.Colourful(16, 16);
        using var o = new LutDistortion(lut, 0, 1.0).Apply(img);
        Assert.True(TestImages.MaxAbsDiff(o[0], img[1]) < 1e-5);
        Assert.True(TestImages.MaxAbsDiff(o[1], img[2]) < 1e-5);
        Assert.True(TestImages.MaxAbsDiff(o[2], img[0]) < 1e-5);

        // a nonlinear per-axis LUT is interpolated trilinearly: at a grid node it is exact
        using var pixel = tensor(new float[] { 2 / 8f, 5 / 8f, 7 / 8f }, new long[] { 3, 1, 1 });
        using var po = new LutDistortion(DistortionGeneratorTests.WarmLut(9), 0, 1.0).Apply(pixel);
        var v = TestImages.Values(po);
        Assert.Equal(MathF.Min(1, 2 / 8f * 1.15f + 0.03f), v[0], 5);
        float gg = 5 / 8f;
        Assert.Equal(gg * gg * (3 - 2 * gg), v[1], 5);
        Assert.Equal(7 / 8f * 0.8f, v[2], 5);
    }

    [Fact]
    public void Lut_StrengthBlends_AndDomainIsRespected()
    {
        var img = TestImages.Colourful(16, 16);
        var warm = DistortionGeneratorTests.WarmLut(17);
        using var full = new LutDistortion(warm, 0, 1.0).Apply(img);
        using var half = new LutDistortion(warm, 0, 0.5).Apply(img);
        using var expected = (img + full) * 0.5;
        Assert.True(TestImages.MaxAbsDiff(half, expected) < 1e-5);

        // identity table over domain [0,2]: the output is the grid coordinate, i.e. x/2
        var wide = new Lut3D(5, Lut3D.Identity(5).Data) { DomainMin = [0, 0, 0], DomainMax = [2, 2, 2] };
        using var w = new LutDistortion(wide, 0, 1.0).Apply(img);
        Assert.True(TestImages.MaxAbsDiff(w, img * 0.5) < 1e-5);
    }
}
