using static TorchSharp.torch;

namespace LatentBalance.Engine.Color;

/// <summary>
/// The grey-world baseline: in linear light, scale each channel so that its mean equals the mean
/// of the three channel means (the average colour becomes neutral, brightness is kept).
/// </summary>
public static class GreyWorld
{
    /// <summary>Per-channel gains in linear light for an sRGB image [3, H, W] in [0, 1].</summary>
    public static float[] Gains(Tensor srgb)
    {
        using var scope = NewDisposeScope();
        var lin = ColorSpaces.SrgbToLinear(srgb.to(ScalarType.Float32));
        var means = lin.reshape(3, -1).mean([1]).clamp_min(1e-6);
        var target = means.mean();
        return (target / means).data<float>().ToArray();
    }

    /// <summary>The grey-world correction of an sRGB image [3, H, W] (or [N, 3, H, W]) in [0, 1].</summary>
    public static Tensor Apply(Tensor srgb, float[] gains, float strength = 1f)
    {
        using var scope = NewDisposeScope();
        var g = tensor(gains.Select(v => 1 + strength * (v - 1)).ToArray()).view(3, 1, 1).to(srgb.device);
        var lin = ColorSpaces.SrgbToLinear(srgb.to(ScalarType.Float32));
        return ColorSpaces.LinearToSrgb((lin * g).clamp(0, 1)).MoveToOuterDisposeScope();
    }
}
