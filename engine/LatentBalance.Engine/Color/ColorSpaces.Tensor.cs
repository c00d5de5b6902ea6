using LatentBalance.Engine.Runtime;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Color;

/// <summary>The tensor forms of <see cref="ColorSpaces"/> (channel axis -3: [3,H,W] or [N,3,H,W]).</summary>
public static partial class ColorSpaces
{
    public static Tensor SrgbToLinear(Tensor srgb)
    {
        using var scope = NewDisposeScope();
        var a = srgb.abs();
        var l = where(a.le(HeldScalars.Of(EncodedKnee)), a.Over(Slope), a.Plus(Offset).Over(Scale).Power(Gamma));
        return (srgb.sign() * l).MoveToOuterDisposeScope();
    }

    public static Tensor LinearToSrgb(Tensor linear)
    {
        using var scope = NewDisposeScope();
        var a = linear.abs();
        var c = where(a.le(HeldScalars.Of(LinearKnee)), a.Times(Slope), a.Power(1 / Gamma).Times(Scale).Minus(Offset));
        return (linear.sign() * c).MoveToOuterDisposeScope();
    }

    public static Tensor LinearRgbToXyz(Tensor rgb) => MixChannels(rgb, RgbToXyzMatrix);
    public static Tensor XyzToLinearRgb(Tensor xyz) => MixChannels(xyz, XyzToRgbMatrix);

    public static Tensor XyzToLab(Tensor xyz)
    {
        CheckChannels(xyz);
        using var scope = NewDisposeScope();
        var white = tensor(new[] { (float)WhiteX, (float)WhiteY, (float)WhiteZ }, xyz.dtype, xyz.device).view(3, 1, 1);
        var t = xyz / white;
        var f = where(t.gt(HeldScalars.Of(Delta3)), t.AtLeast(Delta3).Power(1.0 / 3.0), t.Times(LinSlope).Plus(4.0 / 29.0));
        var fx = f.select(-3, 0); var fy = f.select(-3, 1); var fz = f.select(-3, 2);
        return stack([fy.Times(116L).Minus(16L), (fx - fy).Times(500L), (fy - fz).Times(200L)], -3).MoveToOuterDisposeScope();
    }

    public static Tensor LabToXyz(Tensor lab)
    {
        CheckChannels(lab);
        using var scope = NewDisposeScope();
        var fy = lab.select(-3, 0).Plus(16L).Over(116L);
        var fx = fy.Plus(lab.select(-3, 1).Over(500L));
        var fz = fy - lab.select(-3, 2).Over(200L);
        var f = stack([fx, fy, fz], -3);
        var t = where(f.gt(HeldScalars.Of(Delta)), f.Power(3L), f.Minus(4.0 / 29.0).Over(LinSlope));
        var white = tensor(new[] { (float)WhiteX, (float)WhiteY, (float)WhiteZ }, lab.dtype, lab.device).view(3, 1, 1);
        return (t * white).MoveToOuterDisposeScope();
    }

    public static Tensor SrgbToLab(Tensor srgb)
    {
        using var scope = NewDisposeScope();
        return XyzToLab(LinearRgbToXyz(SrgbToLinear(srgb))).MoveToOuterDisposeScope();
    }

    public static Tensor LabToSrgb(Tensor lab)
    {
        using var scope = NewDisposeScope();
        return LinearToSrgb(XyzToLinearRgb(LabToXyz(lab))).MoveToOuterDisposeScope();
    }

    /// <summary>y_i = sum_j m[i, j] x_j on the channel axis -3.</summary>
    public static Tensor MixChannels(Tensor x, double[,] m)
    {
        CheckChannels(x);
        using var scope = NewDisposeScope();
        var flat = new float[9];
        for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) flat[i * 3 + j] = (float)m[i, j];
        var mt = tensor(flat, [3, 3], x.dtype, x.device);
        // y[..., i, h, w] = sum_j m[i, j] x[..., j, h, w]
        var y = x.movedim([-3L], [-1L]).matmul(mt.t()).movedim([-1L], [-3L]);
        return y.contiguous().MoveToOuterDisposeScope();
    }

    static void CheckChannels(Tensor x)
    {
        if (x.dim() < 3 || x.shape[^3] != 3)
            throw new ArgumentException($"colour tensor must have 3 channels on axis -3 ([3,H,W] or [N,3,H,W]), got [{string.Join(",", x.shape)}]");
    }
}
