using LatentBalance.Engine.Color;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Tests.Color;

public class Ciede2000Tests
{
    // Sharma, Wu & Dalal (2005), Table 1: L1 a1 b1 L2 a2 b2 dE00.
    public static readonly TheoryData<double, double, double, double, double, double, double> SharmaPairs = new()
    {
        { 50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485, 2.0425 },
        { 50.0000, 3.1571, -77.2803, 50.0000, 0.0000, -82.7485, 2.8615 },
        { 50.0000, 2.8361, -74.0200, 50.0000, 0.0000, -82.7485, 3.4412 },
        { 50.0000, -1.3802, -84.2814, 50.0000, 0.0000, -82.7485, 1.0000 },
        { 50.0000, -1.1848, -84.8006, 50.0000, 0.0000, -82.7485, 1.0000 },
        { 50.0000, -0.9009, -85.5211, 50.0000, 0.0000, -82.7485, 1.0000 },
        { 50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000, 2.3669 },
        { 50.0000, -1.0000, 2.0000, 50.0000, 0.0000, 0.0000, 2.3669 },
        { 50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0009, 7.1792 },
        { 50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0010, 7.1792 },
        { 50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0011, 7.2195 },
        { 50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0012, 7.2195 },
        { 50.0000, -0.0010, 2.4900, 50.0000, 0.0009, -2.4900, 4.8045 },
        { 50.0000, -0.0010, 2.4900, 50.0000, 0.0010, -2.4900, 4.8045 },
        { 50.0000, -0.0010, 2.4900, 50.0000, 0.0011, -2.4900, 4.7461 },
        { 50.0000, 2.5000, 0.0000, 50.0000, 0.0000, -2.5000, 4.3065 },
        { 50.0000, 2.5000, 0.0000, 73.0000, 25.0000, -18.0000, 27.1492 },
        { 50.0000, 2.5000, 0.0000, 61.0000, -5.0000, 29.0000, 22.8977 },
        { 50.0000, 2.5000, 0.0000, 56.0000, -27.0000, -3.0000, 31.9030 },
        { 50.0000, 2.5000, 0.0000, 58.0000, 24.0000, 15.0000, 19.4535 },
        { 50.0000, 2.5000, 0.0000, 50.0000, 3.1736, 0.5854, 1.0000 },
        { 50.0000, 2.5000, 0.0000, 50.0000, 3.2972, 0.0000, 1.0000 },
        { 50.0000, 2.5000, 0.0000, 50.0000, 1.8634, 0.5757, 1.0000 },
        { 50.0000, 2.5000, 0.0000, 50.0000, 3.2592, 0.3350, 1.0000 },
        { 60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644 },
        { 63.0109, -31.0961, -5.8663, 62.8187, -29.7946, -4.0864, 1.2630 },
        { 61.2901, 3.7196, -5.3901, 61.4292, 2.2480, -4.9620, 1.8731 },
        { 35.0831, -44.1164, 3.7933, 35.0232, -40.0716, 1.5901, 1.8645 },
        { 22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373 },
        { 36.4612, 47.8580, 18.3852, 36.2715, 50.5065, 21.2231, 1.4146 },
        { 90.8027, -2.0831, 1.4410, 91.1528, -1.6435, 0.0447, 1.4441 },
        { 90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239, 1.5381 },
        { 6.7747, -0.2908, -2.4247, 5.8714, -0.0985, -2.2286, 0.6377 },
        { 2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514, 0.9082 },
    };

    [Fact]
    public void TableHas34Pairs() => Assert.Equal(34, SharmaPairs.Count());

    [Theory]
    [MemberData(nameof(SharmaPairs))]
    public void MatchesSharmaTestDataTo4DecimalsBothWays(double l1, double a1, double b1, double l2, double a2, double b2, double expected)
    {
        Assert.Equal(expected, Math.Round(Ciede2000.Delta(l1, a1, b1, l2, a2, b2), 4), 10);
        Assert.Equal(expected, Math.Round(Ciede2000.Delta(l2, a2, b2, l1, a1, b1), 4), 10);
    }

    [Fact]
    public void IdenticalColoursAreZero() => Assert.Equal(0, Ciede2000.Delta(40, 20, -30, 40, 20, -30));

    [Fact]
    public void PercentileInterpolates()
    {
        var s = Ciede2000.Summarise([4, 1, 3, 2, 0, 5, 6, 7, 8, 9, 10]);
        Assert.Equal(5, s.Mean, 12);
        Assert.Equal(5, s.Median, 12);
        Assert.Equal(9, s.P90, 12);
        Assert.Equal(10, s.Max);
        Assert.Equal(11, s.Count);
        Assert.Equal(2.5, Ciede2000.Percentile([0, 1, 2, 3, 4, 5], 0.5), 12);
    }

    [Fact]
    public void StatsOverImagesSpanAndTensorAgree()
    {
        var rnd = new Random(3);
        int h = 8, w = 10, n = h * w;
        var a = new float[n * 3];
        var b = new float[n * 3];
        for (int i = 0; i < a.Length; i++) { a[i] = (float)rnd.NextDouble(); b[i] = Math.Clamp(a[i] + (float)(rnd.NextDouble() - 0.5) * 0.1f, 0f, 1f); }

        var spanStats = Ciede2000.Stats(a, b);
        var per = Ciede2000.PerPixel(a, b);
        Assert.Equal(per.Average(), spanStats.Mean, 9);
        Assert.True(spanStats.Mean > 0.5 && spanStats.P90 >= spanStats.Median && spanStats.Max >= spanStats.P90);

        using var scope = NewDisposeScope();
        // interleaved HWC -> CHW tensors
        var ta = tensor(a, [h, w, 3]).permute(2, 0, 1);
        var tb = tensor(b, [h, w, 3]).permute(2, 0, 1);
        var tStats = Ciede2000.Stats(ta, tb);
        Assert.Equal(spanStats.Mean, tStats.Mean, 4);
        Assert.Equal(spanStats.Median, tStats.Median, 4);
        Assert.Equal(spanStats.P90, tStats.P90, 4);
        Assert.Equal(n, tStats.Count);
        Assert.Equal(0, Ciede2000.Mean(ta, ta));
        Assert.Throws<ArgumentException>(() => Ciede2000.Stats(ta, tb[.., ..4]));
    }

    [Fact]
    public void BlackVersusWhiteIsAbout100()
    {
        float[] black = [0, 0, 0], white = [1, 1, 1];
        Assert.Equal(100, Ciede2000.Mean(black, white), 6);
    }
}
