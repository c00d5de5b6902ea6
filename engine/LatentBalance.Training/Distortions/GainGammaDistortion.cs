using System.Globalization;
using LatentBalance.Engine.Color;
using LatentBalance.Engine.Runtime;
using static TorchSharp.torch;

namespace LatentBalance.Training.Distortions;

/// <summary>Per-channel gain and gamma on encoded values: out_c = clamp(gain_c * x_c, 0, 1) ^ gamma_c.</summary>
public sealed class GainGammaDistortion : IDistortion
{
    public const string OpName = "gain_gamma";

    public GainGammaDistortion(double[] gain, double[] gamma)
    {
        if (gain is not { Length: 3 } || gamma is not { Length: 3 })
            throw new ArgumentException("gain_gamma needs exactly 3 gains and 3 gammas (R, G, B)");
        if (gain.Any(g => !double.IsFinite(g) || g <= 0) || gamma.Any(g => !double.IsFinite(g) || g <= 0))
            throw new ArgumentOutOfRangeException(nameof(gain), "gain_gamma gains and gammas must be finite and > 0");
        Gain = (double[])gain.Clone();
        Gamma = (double[])gamma.Clone();
    }

    public IReadOnlyList<double> Gain { get; }
    public IReadOnlyList<double> Gamma { get; }

    public DistortionFamily Family => DistortionFamily.GainGamma;

    internal static GainGammaDistortion Sample(Random rng, DistortionOptions o)
    {
        var gain = new double[3];
        var gamma = new double[3];
        for (int c = 0; c < 3; c++) gain[c] = Math.Round(o.ChannelGain.Sample(rng), 4);
        for (int c = 0; c < 3; c++) gamma[c] = Math.Round(o.ChannelGamma.Sample(rng), 4);
        return new GainGammaDistortion(gain, gamma);
    }

    internal static GainGammaDistortion FromStep(DistortionStep s) =>
        new([s.Get("gain_r"), s.Get("gain_g"), s.Get("gain_b")], [s.Get("gamma_r"), s.Get("gamma_g"), s.Get("gamma_b")]);

    public Tensor Apply(Tensor image) => DistortionTensor.Run(image, x =>
    {
        var g = ColorMath.ChannelVector(x, Gain[0], Gain[1], Gain[2]);
        var p = ColorMath.ChannelVector(x, Gamma[0], Gamma[1], Gamma[2]);
        return (x * g).ClampTo(0.0, 1.0).pow(p);
    });

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{OpName}(gain={Gain[0]:0.###}/{Gain[1]:0.###}/{Gain[2]:0.###}, gamma={Gamma[0]:0.###}/{Gamma[1]:0.###}/{Gamma[2]:0.###})");

    public DistortionStep ToStep() => new(OpName, new Dictionary<string, double>
    {
        ["gain_r"] = Gain[0], ["gain_g"] = Gain[1], ["gain_b"] = Gain[2],
        ["gamma_r"] = Gamma[0], ["gamma_g"] = Gamma[1], ["gamma_b"] = Gamma[2],
    });
}
