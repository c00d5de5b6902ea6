using System.Globalization;
using LatentBalance.Engine.Color;
using LatentBalance.Engine.Runtime;
using static TorchSharp.torch;

namespace LatentBalance.Training.Distortions;

/// <summary>
/// Saturation change in linear light around Rec.709 luminance Y: lin' = Y + s (lin - Y).
/// s = 0 gives grey (R = G = B), s &gt; 1 over-saturates (clipped to the gamut).
/// </summary>
public sealed class SaturationDistortion : IDistortion
{
    public const string OpName = "saturation";

    public SaturationDistortion(double factor)
    {
        if (!double.IsFinite(factor) || factor < 0 || factor > 4)
            throw new ArgumentOutOfRangeException(nameof(factor), $"saturation factor {factor} is outside 0..4");
        Factor = factor;
    }

    public double Factor { get; }
    public DistortionFamily Family => DistortionFamily.Saturation;

    internal static SaturationDistortion Sample(Random rng, DistortionOptions o) =>
        new(Math.Round(rng.Next(2) == 0 ? o.Desaturation.Sample(rng) : o.Oversaturation.Sample(rng), 4));

    internal static SaturationDistortion FromStep(DistortionStep s) => new(s.Get("factor"));

    public Tensor Apply(Tensor image) => DistortionTensor.Run(image, x =>
    {
        var lin = ColorSpaces.SrgbToLinear(x.ClampTo(0, 1));
        var y = ColorMath.Luminance(lin);
        return ColorSpaces.LinearToSrgb(y.Plus((lin - y).Times(Factor)).ClampTo(0, 1));
    });

    public string Describe() => string.Create(CultureInfo.InvariantCulture, $"{OpName}(x{Factor:0.###})");

    public DistortionStep ToStep() => new(OpName, new Dictionary<string, double> { ["factor"] = Factor });
}
