using LatentBalance.Engine.Color;

namespace LatentBalance.Training.Distortions;

/// <summary>A closed interval [Min, Max] sampled uniformly.</summary>
public readonly record struct ValueRange(double Min, double Max)
{
    public double Sample(Random rng) => Min + (Max - Min) * rng.NextDouble();

    /// <summary>Uniform magnitude in [Min, Max] with a random sign.</summary>
    public double SampleSigned(Random rng)
    {
        double m = Sample(rng);
        return rng.Next(2) == 0 ? -m : m;
    }

    internal void Validate(string name)
    {
        if (!double.IsFinite(Min) || !double.IsFinite(Max) || Min > Max)
            throw new ArgumentException($"distortion option {name} = [{Min}, {Max}] is not a valid range (need finite Min <= Max)");
    }

    public override string ToString() => $"[{Min:0.###}, {Max:0.###}]";
}

/// <summary>
/// What <see cref="DistortionGenerator"/> samples from. Defaults are the training settings documented in
/// docs/DISTORTIONS.md. Encoded = sRGB-encoded values, linear = decoded linear light.
/// </summary>
public sealed record DistortionOptions
{
    /// <summary>Number of ops per recipe, drawn uniformly in [MinOps, MaxOps]; each family at most once.</summary>
    public int MinOps { get; init; } = 1;
    public int MaxOps { get; init; } = 4;

    /// <summary>Relative weights of the parametric families (the LUT family is governed by <see cref="LutProbability"/>).
    /// A family missing from the map or with weight 0 is never drawn.</summary>
    public IReadOnlyDictionary<DistortionFamily, double> FamilyWeights { get; init; } = new Dictionary<DistortionFamily, double>
    {
        [DistortionFamily.WhiteBalance] = 2.0,
        [DistortionFamily.GainGamma] = 1.0,
        [DistortionFamily.ToneCurve] = 1.5,
        [DistortionFamily.Saturation] = 1.0,
        [DistortionFamily.CrossTalk] = 1.0,
        [DistortionFamily.SplitToning] = 1.0,
    };

    // --- white balance (linear light, Bradford von Kries) ---
    /// <summary>Warm casts (half of the draws): +mired from 6500 K (153.8 mired); 110 mired is about 3800 K.
    /// The range matches the cool one so that the prior shifts b* by about as much either way (it was
    /// 10-190, which made the average training cast warm and taught the balancer to cool every photo).</summary>
    public ValueRange WhiteBalanceWarmMired { get; init; } = new(10, 110);
    /// <summary>Cool casts (the other half): -mired from 6500 K; 100 mired is about 18600 K (shade / blue sky).</summary>
    public ValueRange WhiteBalanceCoolMired { get; init; } = new(10, 100);
    /// <summary>Green(+)/magenta(-) tint as Duv in CIE 1960 uv, uniform in the range.</summary>
    public ValueRange WhiteBalanceTint { get; init; } = new(-0.015, 0.015);

    // --- per-channel gain and gamma (encoded) ---
    public ValueRange ChannelGain { get; init; } = new(0.82, 1.18);
    public ValueRange ChannelGamma { get; init; } = new(0.8, 1.25);

    // --- tone curves (encoded, same curve on R, G, B) ---
    /// <summary>|black point|: positive crushes (x-b)/(1-b), negative lifts b+(1-b)x; sign random.</summary>
    public ValueRange BlackPoint { get; init; } = new(0.03, 0.12);
    public ValueRange FadeBlack { get; init; } = new(0.04, 0.18);
    public ValueRange FadeWhite { get; init; } = new(0.80, 0.96);
    /// <summary>S-curve amount a in x + a(smoothstep(x) - x): positive adds contrast, negative flattens.</summary>
    public ValueRange SCurve { get; init; } = new(-0.7, 0.9);
    /// <summary>Exposure shift in stops, applied in linear light with clipping.</summary>
    public ValueRange ExposureEv { get; init; } = new(-1.2, 1.0);

    // --- saturation (linear, around Rec.709 luminance) ---
    public ValueRange Desaturation { get; init; } = new(0.0, 0.8);
    public ValueRange Oversaturation { get; init; } = new(1.2, 1.8);

    // --- channel cross-talk (linear) ---
    /// <summary>Largest |off-diagonal| entry of the mixing matrix before row normalisation.</summary>
    public ValueRange CrossTalk { get; init; } = new(0.04, 0.2);

    // --- split toning (encoded) ---
    public ValueRange SplitToneStrength { get; init; } = new(0.04, 0.14);
    /// <summary>|difference| between the highlight hue and the complement of the shadow hue, degrees.</summary>
    public ValueRange SplitToneHueSpread { get; init; } = new(0, 90);

    // --- LUTs ---
    /// <summary>Artistic LUTs; empty means the LUT family is never drawn.</summary>
    public IReadOnlyList<Lut3D> Luts { get; init; } = [];
    /// <summary>Probability that a recipe contains one LUT op (only when <see cref="Luts"/> is non-empty).</summary>
    public double LutProbability { get; init; } = 0.3;
    /// <summary>Blend strength: out = x + s (lut(x) - x).</summary>
    public ValueRange LutStrength { get; init; } = new(0.5, 1.0);

    internal void Validate()
    {
        if (MinOps < 1 || MaxOps < MinOps)
            throw new ArgumentException($"distortion options need 1 <= MinOps <= MaxOps, got MinOps={MinOps}, MaxOps={MaxOps}");
        int parametric = FamilyWeights.Count(kv => kv.Value > 0 && kv.Key != DistortionFamily.Lut);
        if (parametric == 0)
            throw new ArgumentException("distortion options: FamilyWeights has no family with a positive weight");
        if (MaxOps > parametric + (Luts.Count > 0 ? 1 : 0))
            throw new ArgumentException($"distortion options: MaxOps={MaxOps} exceeds the {parametric} enabled families (+1 with LUTs); a family is used at most once per recipe");
        foreach (var (k, v) in FamilyWeights)
            if (!double.IsFinite(v) || v < 0) throw new ArgumentException($"distortion options: weight of {k} is {v}, need a finite value >= 0");
        if (!(LutProbability >= 0 && LutProbability <= 1))
            throw new ArgumentException($"distortion options: LutProbability={LutProbability} is outside [0,1]");
        WhiteBalanceWarmMired.Validate(nameof(WhiteBalanceWarmMired));
        WhiteBalanceCoolMired.Validate(nameof(WhiteBalanceCoolMired));
        WhiteBalanceTint.Validate(nameof(WhiteBalanceTint));
        ChannelGain.Validate(nameof(ChannelGain));
        ChannelGamma.Validate(nameof(ChannelGamma));
        BlackPoint.Validate(nameof(BlackPoint));
        FadeBlack.Validate(nameof(FadeBlack));
        FadeWhite.Validate(nameof(FadeWhite));
        SCurve.Validate(nameof(SCurve));
        ExposureEv.Validate(nameof(ExposureEv));
        Desaturation.Validate(nameof(Desaturation));
        Oversaturation.Validate(nameof(Oversaturation));
        CrossTalk.Validate(nameof(CrossTalk));
        SplitToneStrength.Validate(nameof(SplitToneStrength));
        SplitToneHueSpread.Validate(nameof(SplitToneHueSpread));
        LutStrength.Validate(nameof(LutStrength));
        if (ChannelGain.Min <= 0 || ChannelGamma.Min <= 0) throw new ArgumentException("distortion options: ChannelGain and ChannelGamma must be > 0");
        if (BlackPoint.Max >= 0.5) throw new ArgumentException($"distortion options: BlackPoint max {BlackPoint.Max} must be < 0.5");
        if (FadeBlack.Max >= FadeWhite.Min) throw new ArgumentException("distortion options: FadeBlack must stay below FadeWhite");
        if (SCurve.Min < -1 || SCurve.Max > 1) throw new ArgumentException($"distortion options: SCurve {SCurve} must lie in [-1,1] to keep the curve monotone");
        if (Desaturation.Min < 0) throw new ArgumentException("distortion options: Desaturation must be >= 0");
        if (WhiteBalanceCoolMired.Min < 0 || WhiteBalanceCoolMired.Max > 113)
            throw new ArgumentException($"distortion options: WhiteBalanceCoolMired {WhiteBalanceCoolMired} must lie in [0,113] (6500 K - 113 mired is 25000 K, the end of the locus model)");
        if (WhiteBalanceWarmMired.Min < 0 || WhiteBalanceWarmMired.Max > 440)
            throw new ArgumentException($"distortion options: WhiteBalanceWarmMired {WhiteBalanceWarmMired} must lie in [0,440] (6500 K + 440 mired is 1690 K, the end of the locus model)");
    }
}
