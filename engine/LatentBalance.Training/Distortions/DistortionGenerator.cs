using LatentBalance.Engine.Runtime;
using static TorchSharp.torch;

namespace LatentBalance.Training.Distortions;

/// <summary>
/// Samples random colour distortions for (distorted, clean) training pairs. Everything random comes from
/// <c>new System.Random(seed)</c>, so a seed always gives the same recipe and the same output tensor.
/// A recipe is 1..4 (<see cref="DistortionOptions.MinOps"/>..<see cref="DistortionOptions.MaxOps"/>) ops
/// from distinct families in random order; with probability <see cref="DistortionOptions.LutProbability"/>
/// one of them is an artistic LUT.
/// </summary>
public sealed class DistortionGenerator
{
    public DistortionGenerator(DistortionOptions? options = null)
    {
        Options = options ?? new DistortionOptions();
        Options.Validate();
    }

    public DistortionOptions Options { get; }

    /// <summary>Families that can be drawn with these options (LUT only when LUTs were given).</summary>
    public IReadOnlyList<DistortionFamily> EnabledFamilies =>
        Options.FamilyWeights.Where(kv => kv.Value > 0 && kv.Key != DistortionFamily.Lut).Select(kv => kv.Key)
            .Concat(Options.Luts.Count > 0 ? [DistortionFamily.Lut] : Array.Empty<DistortionFamily>())
            .OrderBy(f => f).ToList();

    /// <summary>A random composition of 1..4 ops.</summary>
    public DistortionRecipe Sample(int seed)
    {
        var rng = new Random(seed);
        int count = rng.Next(Options.MinOps, Options.MaxOps + 1);
        bool useLut = Options.Luts.Count > 0 && rng.NextDouble() < Options.LutProbability;
        int parametric = useLut ? count - 1 : count;

        var pool = Options.FamilyWeights.Where(kv => kv.Value > 0 && kv.Key != DistortionFamily.Lut)
            .OrderBy(kv => kv.Key).Select(kv => (family: kv.Key, weight: kv.Value)).ToList();
        parametric = Math.Min(parametric, pool.Count);
        var families = new List<DistortionFamily>();
        for (int i = 0; i < parametric; i++)
        {
            double total = pool.Sum(p => p.weight), r = rng.NextDouble() * total;
            int k = 0;
            while (k < pool.Count - 1 && (r -= pool[k].weight) >= 0) k++;
            families.Add(pool[k].family);
            pool.RemoveAt(k);
        }
        if (useLut) families.Insert(rng.Next(families.Count + 1), DistortionFamily.Lut);

        var steps = families.Select(f => SampleOp(rng, f).ToStep()).ToList();
        return new DistortionRecipe(seed, steps);
    }

    /// <summary>A recipe with exactly one op of <paramref name="family"/> (used for per-family severity).</summary>
    public DistortionRecipe SampleSingle(int seed, DistortionFamily family)
    {
        if (family == DistortionFamily.Lut && Options.Luts.Count == 0)
            throw new InvalidOperationException("cannot sample a LUT distortion: DistortionOptions.Luts is empty");
        var rng = new Random(seed);
        return new DistortionRecipe(seed, [SampleOp(rng, family).ToStep()]);
    }

    IDistortion SampleOp(Random rng, DistortionFamily family) => family switch
    {
        DistortionFamily.WhiteBalance => WhiteBalanceDistortion.Sample(rng, Options),
        DistortionFamily.GainGamma => GainGammaDistortion.Sample(rng, Options),
        DistortionFamily.ToneCurve => ToneCurves.Sample(rng, Options),
        DistortionFamily.Saturation => SaturationDistortion.Sample(rng, Options),
        DistortionFamily.CrossTalk => CrossTalkDistortion.Sample(rng, Options),
        DistortionFamily.SplitToning => SplitToningDistortion.Sample(rng, Options),
        DistortionFamily.Lut => LutDistortion.Sample(rng, Options),
        _ => throw new ArgumentOutOfRangeException(nameof(family), $"unknown distortion family {family}"),
    };

    /// <summary>Turns a recipe step back into its op; LUT steps resolve against <see cref="DistortionOptions.Luts"/>.</summary>
    public IDistortion Build(DistortionStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        return step.Op switch
        {
            WhiteBalanceDistortion.OpName => WhiteBalanceDistortion.FromStep(step),
            GainGammaDistortion.OpName => GainGammaDistortion.FromStep(step),
            BlackPointDistortion.OpName => BlackPointDistortion.FromStep(step),
            FadeDistortion.OpName => FadeDistortion.FromStep(step),
            SCurveDistortion.OpName => SCurveDistortion.FromStep(step),
            ExposureDistortion.OpName => ExposureDistortion.FromStep(step),
            SaturationDistortion.OpName => SaturationDistortion.FromStep(step),
            CrossTalkDistortion.OpName => CrossTalkDistortion.FromStep(step),
            SplitToningDistortion.OpName => SplitToningDistortion.FromStep(step),
            LutDistortion.OpName => LutDistortion.FromStep(step, Options.Luts),
            _ => throw new ArgumentException($"unknown distortion op '{step.Op}' in recipe step {step}"),
        };
    }

    public IReadOnlyList<IDistortion> Build(DistortionRecipe recipe) => recipe.Steps.Select(Build).ToList();

    /// <summary>
    /// Applies the recipe's ops in order to a float image [3,H,W] or [N,3,H,W] in [0,1] (every image of a
    /// batch gets the same recipe). Returns a new float32 tensor of the same shape, clamped to [0,1].
    /// </summary>
    public Tensor Apply(DistortionRecipe recipe, Tensor image)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        DistortionTensor.Validate(image);
        var ops = Build(recipe);
        using var scope = NewDisposeScope();
        var x = image.dtype == ScalarType.Float32 ? image.ClampTo(0.0, 1.0) : image.to_type(ScalarType.Float32).ClampTo(0.0, 1.0);
        foreach (var op in ops) x = op.Apply(x);
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>Samples a recipe for <paramref name="seed"/> and applies it.</summary>
    public (Tensor Distorted, DistortionRecipe Recipe) Distort(Tensor image, int seed)
    {
        var recipe = Sample(seed);
        return (Apply(recipe, image), recipe);
    }
}
