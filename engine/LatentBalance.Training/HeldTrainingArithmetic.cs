using LatentBalance.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Training;

/// <summary>
/// Members beside <see cref="HeldArithmetic"/> that the training code needs, on <see cref="HeldScalars"/>
/// as well; each gives the same result, bit for bit, as the TorchSharp call it replaces.
/// </summary>
public static class HeldTrainingArithmetic
{
    /// <summary><c>torch.arange(start, stop, dtype)</c>: [start, stop) in steps of 1 (int64 unless <paramref name="dtype"/> says otherwise).</summary>
    public static Tensor Arange(long start, long stop, ScalarType? dtype = null) => arange(HeldScalars.Of(start), HeldScalars.Of(stop), HeldScalars.One, dtype);
}
