using System.Globalization;
using LatentBalance.Engine.Color;
using LatentBalance.Engine.Runtime;
using static TorchSharp.torch;

namespace LatentBalance.Training.Distortions;

/// <summary>The tone-curve family: one of black point, fade, S-curve or exposure, picked uniformly.</summary>
public static class ToneCurves
{
    internal static IDistortion Sample(Random rng, DistortionOptions o) => rng.Next(4) switch
    {
        0 => new BlackPointDistortion(Math.Round(o.BlackPoint.SampleSigned(rng), 4)),
        1 => new FadeDistortion(Math.Round(o.FadeBlack.Sample(rng), 4), Math.Round(o.FadeWhite.Sample(rng), 4)),
        2 => new SCurveDistortion(Math.Round(o.SCurve.Sample(rng), 4)),
        _ => new ExposureDistortion(Math.Round(o.ExposureEv.Sample(rng), 4)),
    };
}

/// <summary>
/// Crushed (b &gt; 0) or lifted (b &lt; 0) blacks on encoded values:
/// b &gt; 0: (x - b) / (1 - b); b &lt; 0: |b| + (1 - |b|) x.
/// </summary>
public sealed class BlackPointDistortion : IDistortion
{
    public const string OpName = "black_point";

    public BlackPointDistortion(double black)
    {
        if (!double.IsFinite(black) || Math.Abs(black) >= 0.5)
            throw new ArgumentOutOfRangeException(nameof(black), $"black_point {black} is outside (-0.5, 0.5)");
        Black = black;
    }

    public double Black { get; }
    public DistortionFamily Family => DistortionFamily.ToneCurve;

    internal static BlackPointDistortion FromStep(DistortionStep s) => new(s.Get("black"));

    public Tensor Apply(Tensor image) => DistortionTensor.Run(image, x =>
        Black >= 0 ? x.Minus(Black).Over(1 - Black) : x.Times(1 + Black).Minus(Black));

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{OpName}({(Black >= 0 ? "crush" : "lift")} {Math.Abs(Black):0.###})");

    public DistortionStep ToStep() => new(OpName, new Dictionary<string, double> { ["black"] = Black });
}

/// <summary>Faded film: lifted blacks and lowered whites, out = black + (white - black) x on encoded values.</summary>
public sealed class FadeDistortion : IDistortion
{
    public const string OpName = "fade";

    public FadeDistortion(double black, double white)
    {
        if (!double.IsFinite(black) || !double.IsFinite(white) || black < 0 || white > 1 || black >= white)
            throw new ArgumentOutOfRangeException(nameof(black), $"fade needs 0 <= black < white <= 1, got black={black}, white={white}");
        Black = black;
        White = white;
    }

    public double Black { get; }
    public double White { get; }
    public DistortionFamily Family => DistortionFamily.ToneCurve;

    internal static FadeDistortion FromStep(DistortionStep s) => new(s.Get("black"), s.Get("white"));

    public Tensor Apply(Tensor image) => DistortionTensor.Run(image, x => x.Times(White - Black).Plus(Black));

    public string Describe() => string.Create(CultureInfo.InvariantCulture, $"{OpName}(black={Black:0.###}, white={White:0.###})");

    public DistortionStep ToStep() => new(OpName, new Dictionary<string, double> { ["black"] = Black, ["white"] = White });
}

/// <summary>
/// S-curve on encoded values: x + a (x^2 (3 - 2x) - x). a &gt; 0 adds contrast, a &lt; 0 flattens
/// (inverse S); monotone for a in [-1, 1]; 0, 0.5 and 1 stay fixed.
/// </summary>
public sealed class SCurveDistortion : IDistortion
{
    public const string OpName = "s_curve";

    public SCurveDistortion(double amount)
    {
        if (!double.IsFinite(amount) || amount < -1 || amount > 1)
            throw new ArgumentOutOfRangeException(nameof(amount), $"s_curve amount {amount} is outside [-1, 1]");
        Amount = amount;
    }

    public double Amount { get; }
    public DistortionFamily Family => DistortionFamily.ToneCurve;

    internal static SCurveDistortion FromStep(DistortionStep s) => new(s.Get("amount"));

    public Tensor Apply(Tensor image) => DistortionTensor.Run(image, x =>
    {
        var c = x.ClampTo(0.0, 1.0);
        var smooth = c * c * c.Times(2.0).From(3.0);   // c^2 (3 - 2c)
        return c.Plus((smooth - c).Times(Amount));
    });

    public string Describe() => string.Create(CultureInfo.InvariantCulture, $"{OpName}({Amount:+0.###;-0.###})");

    public DistortionStep ToStep() => new(OpName, new Dictionary<string, double> { ["amount"] = Amount });
}

/// <summary>Exposure shift in stops: linear light times 2^ev, clipped at 1.</summary>
public sealed class ExposureDistortion : IDistortion
{
    public const string OpName = "exposure";

    public ExposureDistortion(double ev)
    {
        if (!double.IsFinite(ev) || Math.Abs(ev) > 4)
            throw new ArgumentOutOfRangeException(nameof(ev), $"exposure {ev} EV is outside -4..4");
        Ev = ev;
    }

    public double Ev { get; }
    public DistortionFamily Family => DistortionFamily.ToneCurve;

    internal static ExposureDistortion FromStep(DistortionStep s) => new(s.Get("ev"));

    public Tensor Apply(Tensor image) => DistortionTensor.Run(image, x =>
        ColorSpaces.LinearToSrgb(ColorSpaces.SrgbToLinear(x.ClampTo(0, 1)).Times(Math.Pow(2, Ev)).ClampTo(0, 1)));

    public string Describe() => string.Create(CultureInfo.InvariantCulture, $"{OpName}({Ev:+0.##;-0.##} EV)");

    public DistortionStep ToStep() => new(OpName, new Dictionary<string, double> { ["ev"] = Ev });
}
