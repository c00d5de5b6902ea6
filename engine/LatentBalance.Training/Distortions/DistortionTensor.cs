using LatentBalance.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Training.Distortions;

/// <summary>
/// Shape/dtype handling shared by every op: accepts [3,H,W] or [N,3,H,W] floating-point images, runs the
/// op on float32 [N,3,H,W] inside a dispose scope, clamps to [0,1] and restores the input's rank.
/// </summary>
internal static class DistortionTensor
{
    public static Tensor Run(Tensor image, Func<Tensor, Tensor> op)
    {
        Validate(image);
        using var scope = NewDisposeScope();
        var x = image.dim() == 3 ? image.unsqueeze(0) : image;
        if (x.dtype != ScalarType.Float32) x = x.to_type(ScalarType.Float32);
        var y = op(x).ClampTo(0.0, 1.0);
        if (image.dim() == 3) y = y.squeeze(0);
        return y.contiguous().MoveToOuterDisposeScope();
    }

    public static void Validate(Tensor image)
    {
        ArgumentNullException.ThrowIfNull(image);
        long rank = image.dim();
        if (rank != 3 && rank != 4)
            throw new ArgumentException($"distortion input must be [3,H,W] or [N,3,H,W], got shape [{string.Join(",", image.shape)}]", nameof(image));
        if (image.shape[rank - 3] != 3)
            throw new ArgumentException($"distortion input must have 3 channels (RGB) on axis {rank - 3}, got shape [{string.Join(",", image.shape)}]", nameof(image));
        if (!image.is_floating_point())
            throw new ArgumentException($"distortion input must be a floating-point tensor in [0,1], got {image.dtype}", nameof(image));
    }
}
