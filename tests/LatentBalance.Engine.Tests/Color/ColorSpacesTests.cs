using LatentBalance.Engine.Color;
using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Tests.Color;

public class ColorSpacesTests
{
    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(0.02, 0.02 / 12.92)]
    [InlineData(0.5, 0.214041140)]
    [InlineData(1.0, 1.0)]
    public void SrgbToLinearKnownValues(double s, double l)
    {
        Assert.Equal(l, ColorSpaces.SrgbToLinear(s), 8);
        Assert.Equal(s, ColorSpaces.LinearToSrgb(l), 8);
        // At the knee the standard's rounded constants (0.04045, 0.0031308) disagree by ~3e-8.
        Assert.Equal(0.04045, ColorSpaces.LinearToSrgb(ColorSpaces.SrgbToLinear(0.04045)), 6);
    }

    [Fact]
    public void TransferCurveIsContinuousAndInvertible()
    {
        for (double s = -0.2; s <= 1.2; s += 0.001)
            Assert.Equal(s, ColorSpaces.LinearToSrgb(ColorSpaces.SrgbToLinear(s)), 6);
        // continuity at the knee
        Assert.Equal(ColorSpaces.SrgbToLinear(0.04045), ColorSpaces.SrgbToLinear(0.0404500001), 7);
        Assert.Equal(ColorSpaces.LinearToSrgb(0.0031308), ColorSpaces.LinearToSrgb(0.0031308001), 7);
    }

    [Fact]
    public void WhiteAndPrimariesInXyzAndLab()
    {
        var (x, y, z) = ColorSpaces.LinearRgbToXyz(1, 1, 1);
        Assert.Equal(0.9505, x, 4);
        Assert.Equal(1.0, y, 10);
        Assert.Equal(1.0891, z, 4);
        var (l, a, b) = ColorSpaces.SrgbToLab(1, 1, 1);
        Assert.Equal(100, l, 8); Assert.Equal(0, a, 8); Assert.Equal(0, b, 8);
        // sRGB red: widely published L*a*b* (D65) 53.24, 80.09, 67.20
        (l, a, b) = ColorSpaces.SrgbToLab(1, 0, 0);
        Assert.Equal(53.24, l, 2); Assert.Equal(80.09, a, 1); Assert.Equal(67.20, b, 1);
        (l, a, b) = ColorSpaces.SrgbToLab(0, 0, 0);
        Assert.Equal(0, l, 10);
        // mid grey 0.5 -> L* 53.39
        Assert.Equal(53.389, ColorSpaces.SrgbToLab(0.5, 0.5, 0.5).L, 2);
    }

    [Fact]
    public void MatricesAreInverse()
    {
        var (r, g, b) = ColorSpaces.XyzToLinearRgb(0.3, 0.4, 0.5);
        var (x, y, z) = ColorSpaces.LinearRgbToXyz(r, g, b);
        Assert.Equal(0.3, x, 12); Assert.Equal(0.4, y, 12); Assert.Equal(0.5, z, 12);
    }

    [Fact]
    public void LabRoundTripIncludingDarkBranch()
    {
        var rnd = new Random(1);
        for (int i = 0; i < 2000; i++)
        {
            double r = rnd.NextDouble(), g = rnd.NextDouble(), b = rnd.NextDouble() * (i % 2 == 0 ? 1 : 0.01);
            var lab = ColorSpaces.SrgbToLab(r, g, b);
            var back = ColorSpaces.LabToSrgb(lab.L, lab.A, lab.B);
            Assert.Equal(r, back.R, 9); Assert.Equal(g, back.G, 9); Assert.Equal(b, back.B, 9);
        }
    }

    [Fact]
    public void SpanHelpersMatchScalarAndWorkInPlace()
    {
        float[] rgb = [0.1f, 0.5f, 0.9f, 1f, 0f, 0.25f];
        var lab = new float[6];
        ColorSpaces.SrgbToLab(rgb, lab);
        var e = ColorSpaces.SrgbToLab(1, 0, 0.25);
        Assert.Equal(e.L, lab[3], 3); Assert.Equal(e.A, lab[4], 3); Assert.Equal(e.B, lab[5], 3);
        var buf = (float[])lab.Clone();
        ColorSpaces.LabToSrgb(buf, buf);
        for (int i = 0; i < 6; i++) Assert.Equal(rgb[i], buf[i], 4);
        Assert.Throws<ArgumentException>(() => ColorSpaces.SrgbToLab(new float[5], new float[5]));
        Assert.Throws<ArgumentException>(() => ColorSpaces.SrgbToLab(new float[6], new float[3]));
    }

    [Fact]
    public void TensorCurvesMatchTheScalarCurvesAndLumaIsTheYRow()
    {
        using var scope = NewDisposeScope();
        double[] v = [-0.5, -0.01, 0, 0.002, 0.0031308, 0.01, 0.04045, 0.2, 0.5, 0.9, 1, 1.2];
        var t = tensor(v, [1, 3, 1, 4]);
        var lin = ColorSpaces.SrgbToLinear(t).data<double>().ToArray();
        var enc = ColorSpaces.LinearToSrgb(t).data<double>().ToArray();
        for (int i = 0; i < v.Length; i++)
        {
            Assert.Equal(ColorSpaces.SrgbToLinear(v[i]), lin[i], 12);
            Assert.Equal(ColorSpaces.LinearToSrgb(v[i]), enc[i], 12);
        }
        // one matrix precision: luminance weights are the Y row, summing to Y(white) = 1
        Assert.Equal((ColorSpaces.RgbToXyzMatrix[1, 0], ColorSpaces.RgbToXyzMatrix[1, 1], ColorSpaces.RgbToXyzMatrix[1, 2]), (ColorSpaces.LumaR, ColorSpaces.LumaG, ColorSpaces.LumaB));
        Assert.Equal(1.0, ColorSpaces.LumaR + ColorSpaces.LumaG + ColorSpaces.LumaB, 12);
        Assert.Equal(0.2126390, ColorSpaces.LumaR, 7);
    }

    [Fact]
    public void TensorHelpersMatchScalar()
    {
        using var scope = NewDisposeScope();
        var rnd = new Random(2);
        int h = 5, w = 7;
        var data = new float[2 * 3 * h * w];
        for (int i = 0; i < data.Length; i++) data[i] = (float)rnd.NextDouble();
        data[0] = 0; data[1] = 1; data[2] = 0.001f; // dark branch
        var img = tensor(data, [2, 3, h, w]);
        var lab = ColorSpaces.SrgbToLab(img);
        Assert.Equal(new long[] { 2, 3, h, w }, lab.shape);
        var labArr = lab.data<float>().ToArray();
        for (int n = 0; n < 2; n++)
            for (int p = 0; p < h * w; p++)
            {
                int o = n * 3 * h * w + p;
                var e = ColorSpaces.SrgbToLab(data[o], data[o + h * w], data[o + 2 * h * w]);
                Assert.Equal(e.L, labArr[o], 2); // float32 vs double
                Assert.Equal(e.A, labArr[o + h * w], 2);
                Assert.Equal(e.B, labArr[o + 2 * h * w], 2);
            }
        var back = ColorSpaces.LabToSrgb(lab[0]); // [3,H,W] form
        Assert.True((back - img[0]).abs().max().item<float>() < 1e-4f);
        Assert.Throws<ArgumentException>(() => ColorSpaces.LinearRgbToXyz(zeros(4, 2, 2)));
    }
}
