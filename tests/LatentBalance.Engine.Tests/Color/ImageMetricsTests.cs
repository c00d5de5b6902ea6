using LatentBalance.Engine.Color;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Tests.Color;

public class ImageMetricsTests
{
    [Fact]
    public void PsnrOfKnownMse()
    {
        var a = new float[300];
        var b = Enumerable.Repeat(0.1f, 300).ToArray();
        Assert.Equal(20, ImageMetrics.Psnr(a, b), 5);
        Assert.Equal(double.PositiveInfinity, ImageMetrics.Psnr(b, b));
        byte[] x = [0, 0, 0, 0], y = [255, 255, 0, 0];
        Assert.Equal(10 * Math.Log10(2), ImageMetrics.Psnr(x, y), 9);
        using var scope = NewDisposeScope();
        Assert.Equal(20, ImageMetrics.Psnr(tensor(a), tensor(b)), 5);
        Assert.Throws<ArgumentException>(() => ImageMetrics.Psnr(a, b.AsSpan(1)));
    }
}
