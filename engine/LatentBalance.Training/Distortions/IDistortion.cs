using static TorchSharp.torch;

namespace LatentBalance.Training.Distortions;

/// <summary>The op families the generator draws from; a recipe uses each family at most once.</summary>
public enum DistortionFamily
{
    WhiteBalance,
    GainGamma,
    ToneCurve,
    Saturation,
    CrossTalk,
    SplitToning,
    Lut,
}

/// <summary>
/// One colour distortion with fixed parameters. <see cref="Apply"/> takes a float image [3,H,W] or
/// [N,3,H,W] in [0,1] sRGB and returns a new tensor of the same shape, clamped to [0,1]; the input is
/// not modified.
/// </summary>
public interface IDistortion
{
    DistortionFamily Family { get; }

    Tensor Apply(Tensor image);

    /// <summary>Short human-readable description with parameters, e.g. <c>white_balance(T=4200K, duv=+0.004)</c>.</summary>
    string Describe();

    /// <summary>The serialisable form that <see cref="DistortionGenerator.Build"/> turns back into this op.</summary>
    DistortionStep ToStep();
}
