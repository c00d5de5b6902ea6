using LatentBalance.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Color;

public sealed partial class LutTransform
{
    /// <summary>
    /// Applies <paramref name="lut"/> (trilinear, clamped to the domain) to a float image tensor
    /// [N,3,H,W] or [3,H,W] with values in [0,1], on the tensor's device; returns a new tensor of the
    /// same shape. out = in + strength * (lut(in) - in). Agrees with <see cref="LutTransform"/>
    /// (trilinear) to float rounding.
    /// </summary>
    /// <remarks>
    /// Uses <c>grid_sample</c> on the LUT as a 5D volume [1,3,D=blue,H=green,W=red] with
    /// align_corners=true; the grid's last axis is (x, y, z) = (W, H, D) = (red, green, blue).
    /// </remarks>
    public static Tensor ApplyToTensor(Lut3D lut, Tensor rgbNCHW01, float strength = 1f)
    {
        ArgumentNullException.ThrowIfNull(lut);
        ArgumentNullException.ThrowIfNull(rgbNCHW01);
        if (!(strength >= 0f && strength <= 1f)) throw new ArgumentOutOfRangeException(nameof(strength), $"LUT strength {strength} is outside [0, 1]");
        bool single = rgbNCHW01.dim() == 3;
        if (!(single || rgbNCHW01.dim() == 4) || rgbNCHW01.shape[^3] != 3)
            throw new ArgumentException($"ApplyToTensor expects [N,3,H,W] or [3,H,W], got [{string.Join(",", rgbNCHW01.shape)}]");

        using var scope = NewDisposeScope();
        var x = single ? rgbNCHW01.unsqueeze(0) : rgbNCHW01;
        var dtype = x.dtype;
        x = x.to(ScalarType.Float32);
        var device = x.device;
        long n = x.shape[0];
        int s = lut.Size;

        var volume = tensor(lut.Data, [s, s, s, 3], device: device) // [b, g, r, c]
            .permute(3, 0, 1, 2).unsqueeze(0)                      // [1, c, b, g, r]
            .expand(n, 3, s, s, s);
        var dmin = tensor(lut.DomainMin, [1, 3, 1, 1], device: device);
        var dmax = tensor(lut.DomainMax, [1, 3, 1, 1], device: device);
        var grid = ((x - dmin) / (dmax - dmin)).ClampTo(0f, 1f).Times(2f).Minus(1f); // [N, 3(r,g,b), H, W]
        grid = grid.permute(0, 2, 3, 1).unsqueeze(1);                     // [N, 1, H, W, 3]
        var sampled = nn.functional.grid_sample(volume, grid,
            mode: GridSampleMode.Bilinear, padding_mode: GridSamplePaddingMode.Border, align_corners: true); // [N, 3, 1, H, W]
        var lutOut = sampled.squeeze(2);
        var y = strength == 1f ? lutOut : x.Plus((lutOut - x).Times(strength));
        if (dtype != ScalarType.Float32) y = y.to(dtype);
        if (single) y = y.squeeze(0);
        return y.MoveToOuterDisposeScope();
    }
}
