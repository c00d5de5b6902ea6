using System.Globalization;
using LatentBalance.Engine.Color;
using LatentBalance.Engine.Runtime;
using static TorchSharp.torch;

namespace LatentBalance.Training.Distortions;

/// <summary>
/// White-balance error: a neutral lit at 6500 K is rendered as the white of the daylight/Planckian locus
/// at <see cref="TemperatureK"/>, moved off the locus by <see cref="Tint"/> (Duv, + green / - magenta).
/// Applied in linear light as a Bradford von Kries adaptation in XYZ (D65 sRGB primaries), keeping the
/// luminance of neutrals. Lower temperatures give a warmer (redder) cast.
/// </summary>
public sealed class WhiteBalanceDistortion : IDistortion
{
    public const string OpName = "white_balance";
    public const double ReferenceK = 6500.0;

    public WhiteBalanceDistortion(double temperatureK, double tint)
    {
        if (!double.IsFinite(temperatureK) || temperatureK < 1667 || temperatureK > 25000)
            throw new ArgumentOutOfRangeException(nameof(temperatureK), $"white balance temperature {temperatureK} K is outside 1667..25000 K");
        if (!double.IsFinite(tint) || Math.Abs(tint) > 0.05)
            throw new ArgumentOutOfRangeException(nameof(tint), $"white balance tint (Duv) {tint} is outside -0.05..0.05");
        TemperatureK = temperatureK;
        Tint = tint;
        Matrix = BuildMatrix(temperatureK, tint);
    }

    public double TemperatureK { get; }
    public double Tint { get; }

    /// <summary>The 3x3 linear-RGB matrix this op applies.</summary>
    public double[,] Matrix { get; }

    public DistortionFamily Family => DistortionFamily.WhiteBalance;

    public static double[,] BuildMatrix(double temperatureK, double tint)
    {
        var (xs, ys) = ColorMath.WhiteXy(temperatureK, tint);
        var (xr, yr) = ColorMath.WhiteXy(ReferenceK, 0);
        var lmsSrc = ColorMath.Multiply(ColorMath.Bradford, ColorMath.XyToXyz(xs, ys));
        var lmsRef = ColorMath.Multiply(ColorMath.Bradford, ColorMath.XyToXyz(xr, yr));
        var d = ColorMath.Diagonal(lmsSrc[0] / lmsRef[0], lmsSrc[1] / lmsRef[1], lmsSrc[2] / lmsRef[2]);
        var xyz = ColorMath.Multiply(ColorMath.BradfordInverse, ColorMath.Multiply(d, ColorMath.Bradford));
        return ColorMath.Multiply(ColorSpaces.XyzToRgbMatrix, ColorMath.Multiply(xyz, ColorSpaces.RgbToXyzMatrix));
    }

    internal static WhiteBalanceDistortion Sample(Random rng, DistortionOptions o)
    {
        double shift = rng.Next(2) == 0 ? o.WhiteBalanceWarmMired.Sample(rng) : -o.WhiteBalanceCoolMired.Sample(rng);
        double mired = 1e6 / ReferenceK + shift;
        double k = Math.Clamp(1e6 / mired, 1667, 25000);
        double tint = o.WhiteBalanceTint.Sample(rng);
        return new WhiteBalanceDistortion(Math.Round(k, 1), Math.Round(tint, 5));
    }

    internal static WhiteBalanceDistortion FromStep(DistortionStep s) => new(s.Get("kelvin"), s.Get("duv"));

    public Tensor Apply(Tensor image) => DistortionTensor.Run(image, x =>
        ColorSpaces.LinearToSrgb(ColorSpaces.MixChannels(ColorSpaces.SrgbToLinear(x.ClampTo(0, 1)), Matrix).ClampTo(0, 1)));

    public string Describe() => string.Create(CultureInfo.InvariantCulture, $"{OpName}(T={TemperatureK:0}K, duv={Tint:+0.0000;-0.0000})");

    public DistortionStep ToStep() => new(OpName, new Dictionary<string, double> { ["kelvin"] = TemperatureK, ["duv"] = Tint });
}
