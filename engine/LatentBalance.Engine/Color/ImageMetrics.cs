using LatentBalance.Engine.Runtime;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Color;

/// <summary>Simple image-difference metrics.</summary>
public static class ImageMetrics
{
    /// <summary>PSNR in dB, 10 log10(peak^2 / MSE); +Infinity for identical images.</summary>
    public static double Psnr(ReadOnlySpan<float> a, ReadOnlySpan<float> b, double peak = 1.0)
    {
        CheckLengths(a.Length, b.Length);
        double se = 0;
        for (int i = 0; i < a.Length; i++) { double d = a[i] - b[i]; se += d * d; }
        return FromMse(se / a.Length, peak);
    }

    /// <summary>PSNR in dB for 8-bit images (peak 255).</summary>
    public static double Psnr(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        CheckLengths(a.Length, b.Length);
        long se = 0;
        for (int i = 0; i < a.Length; i++) { int d = a[i] - b[i]; se += d * d; }
        return FromMse((double)se / a.Length, 255.0);
    }

    /// <summary>PSNR in dB over all elements of two same-shaped tensors.</summary>
    public static double Psnr(Tensor a, Tensor b, double peak = 1.0)
    {
        if (!a.shape.SequenceEqual(b.shape))
            throw new ArgumentException($"PSNR needs same-shaped tensors: [{string.Join(",", a.shape)}] vs [{string.Join(",", b.shape)}]");
        if (a.numel() == 0) throw new ArgumentException("PSNR of empty images");
        using var scope = NewDisposeScope();
        double mse = (a.detach().to(ScalarType.Float64) - b.detach().to(ScalarType.Float64)).Squared().mean().item<double>();
        return FromMse(mse, peak);
    }

    public static double FromMse(double mse, double peak) => mse <= 0 ? double.PositiveInfinity : 10 * Math.Log10(peak * peak / mse);

    static void CheckLengths(int a, int b)
    {
        if (a != b) throw new ArgumentException($"PSNR needs same-sized images: {a} vs {b} values");
        if (a == 0) throw new ArgumentException("PSNR of empty images");
    }
}
