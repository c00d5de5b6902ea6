using System.Globalization;
using LatentBalance.Engine.Color;
using LatentBalance.Engine.Runtime;
using static TorchSharp.torch;

namespace LatentBalance.Training.Distortions;

/// <summary>
/// Split toning on encoded values: a tint of hue <see cref="ShadowHue"/> weighted by (1 - Y')^2 and a tint
/// of hue <see cref="HighlightHue"/> weighted by Y'^2, where Y' is Rec.709 luma. Each tint is a
/// zero-luma RGB offset (the hue's fully saturated colour minus its luma, scaled to max |component| 1)
/// times its strength, so it shifts colour, not brightness.
/// </summary>
public sealed class SplitToningDistortion : IDistortion
{
    public const string OpName = "split_tone";

    public SplitToningDistortion(double shadowHue, double shadowStrength, double highlightHue, double highlightStrength)
    {
        if (!double.IsFinite(shadowHue) || !double.IsFinite(highlightHue))
            throw new ArgumentOutOfRangeException(nameof(shadowHue), "split_tone hues must be finite");
        if (!(shadowStrength >= 0 && shadowStrength <= 0.5) || !(highlightStrength >= 0 && highlightStrength <= 0.5))
            throw new ArgumentOutOfRangeException(nameof(shadowStrength), $"split_tone strengths {shadowStrength}, {highlightStrength} must lie in [0, 0.5]");
        ShadowHue = Mod360(shadowHue);
        HighlightHue = Mod360(highlightHue);
        ShadowStrength = shadowStrength;
        HighlightStrength = highlightStrength;
    }

    public double ShadowHue { get; }
    public double ShadowStrength { get; }
    public double HighlightHue { get; }
    public double HighlightStrength { get; }
    public DistortionFamily Family => DistortionFamily.SplitToning;

    static double Mod360(double h) => ((h % 360) + 360) % 360;

    /// <summary>Zero-luma tint direction for a hue in degrees (0 red, 120 green, 240 blue).</summary>
    public static double[] TintVector(double hueDeg)
    {
        double h = Mod360(hueDeg) / 60.0;
        double f = h - Math.Floor(h);
        var rgb = (int)Math.Floor(h) switch
        {
            0 => new[] { 1, f, 0 },
            1 => new[] { 1 - f, 1, 0 },
            2 => new[] { 0, 1, f },
            3 => new[] { 0, 1 - f, 1 },
            4 => new[] { f, 0, 1 },
            _ => new[] { 1, 0, 1 - f },
        };
        double y = ColorSpaces.LumaR * rgb[0] + ColorSpaces.LumaG * rgb[1] + ColorSpaces.LumaB * rgb[2];
        var t = rgb.Select(c => c - y).ToArray();
        double max = t.Max(Math.Abs);
        return t.Select(c => c / max).ToArray();
    }

    internal static SplitToningDistortion Sample(Random rng, DistortionOptions o)
    {
        double sh = rng.NextDouble() * 360;
        double hh = sh + 180 + o.SplitToneHueSpread.SampleSigned(rng);
        return new SplitToningDistortion(Math.Round(sh, 2), Math.Round(o.SplitToneStrength.Sample(rng), 4),
            Math.Round(Mod360(hh), 2), Math.Round(o.SplitToneStrength.Sample(rng), 4));
    }

    internal static SplitToningDistortion FromStep(DistortionStep s) =>
        new(s.Get("shadow_hue"), s.Get("shadow_strength"), s.Get("highlight_hue"), s.Get("highlight_strength"));

    public Tensor Apply(Tensor image) => DistortionTensor.Run(image, x =>
    {
        var luma = (x * ColorMath.ChannelVector(x, ColorSpaces.LumaR, ColorSpaces.LumaG, ColorSpaces.LumaB)).sum(1, keepdim: true).ClampTo(0.0, 1.0);
        var ts = TintVector(ShadowHue);
        var th = TintVector(HighlightHue);
        var shadow = ColorMath.ChannelVector(x, ts[0], ts[1], ts[2]).Times(ShadowStrength);
        var high = ColorMath.ChannelVector(x, th[0], th[1], th[2]).Times(HighlightStrength);
        var inv = luma.From(1.0);
        return x.Plus(inv * inv * shadow).Plus(luma * luma * high);
    });

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{OpName}(shadows {ShadowHue:0}deg x{ShadowStrength:0.###}, highlights {HighlightHue:0}deg x{HighlightStrength:0.###})");

    public DistortionStep ToStep() => new(OpName, new Dictionary<string, double>
    {
        ["shadow_hue"] = ShadowHue, ["shadow_strength"] = ShadowStrength,
        ["highlight_hue"] = HighlightHue, ["highlight_strength"] = HighlightStrength,
    });
}
