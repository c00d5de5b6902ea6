using System.Globalization;
using System.Text;
using LatentBalance.Engine.Color;
using LatentBalance.Engine.Runtime;
using static TorchSharp.torch;

namespace LatentBalance.Training.Distortions;

/// <summary>Distribution of per-recipe severities (mean colour difference over all pixels of all images).</summary>
public sealed record SeverityStats(string Name, int Samples, double Mean, double P10, double P25, double P50, double P75, double P90, double Max);

/// <summary>Per-family severity table; <see cref="ToMarkdown"/> gives the table used in docs/DISTORTIONS.md.</summary>
public sealed record SeverityReport(string Metric, int Images, IReadOnlyList<SeverityStats> Rows)
{
    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"| op | recipes | mean {Metric} | p10 | p25 | p50 | p75 | p90 | max |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in Rows)
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Name} | {r.Samples} | {r.Mean:0.0} | {r.P10:0.0} | {r.P25:0.0} | {r.P50:0.0} | {r.P75:0.0} | {r.P90:0.0} | {r.Max:0.0} |"));
        return sb.ToString();
    }
}

/// <summary>
/// Measures how strong the sampled distortions are: CIE76 ΔE (Euclidean distance in CIELAB, D65) between
/// clean and distorted images, averaged over pixels, one value per recipe, summarised as percentiles.
/// </summary>
public static class DistortionSeverity
{
    public const string Metric = "CIE76 ΔE";

    /// <summary>sRGB [N,3,H,W] in [0,1] -> CIELAB (D65 white) [N,3,H,W] as (L*, a*, b*).</summary>
    public static Tensor SrgbToLab(Tensor srgb)
    {
        DistortionTensor.Validate(srgb);
        using var scope = NewDisposeScope();
        return ColorSpaces.SrgbToLab(srgb.to_type(ScalarType.Float32).ClampTo(0, 1)).MoveToOuterDisposeScope();
    }

    /// <summary>Per-pixel CIE76 ΔE between two sRGB images of the same shape; result drops the channel axis.</summary>
    public static Tensor DeltaE76(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape))
            throw new ArgumentException($"ΔE needs equal shapes, got [{string.Join(",", a.shape)}] and [{string.Join(",", b.shape)}]");
        using var scope = NewDisposeScope();
        var diff = SrgbToLab(a) - SrgbToLab(b);
        int ch = a.dim() == 3 ? 0 : 1;
        return diff.Squared().sum(ch).sqrt().MoveToOuterDisposeScope();
    }

    public static double MeanDeltaE76(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return DeltaE76(a, b).mean().to_type(ScalarType.Float64).item<double>();
    }

    /// <summary>
    /// For each enabled family, <paramref name="samples"/> single-op recipes (seeds firstSeed..) applied to the
    /// batch <paramref name="images"/> [N,3,H,W]; tone-curve samples are also broken out per op; the last row
    /// is full compositions from <see cref="DistortionGenerator.Sample"/>.
    /// </summary>
    public static SeverityReport Measure(DistortionGenerator generator, Tensor images, int samples, int firstSeed = 0)
    {
        ArgumentNullException.ThrowIfNull(generator);
        DistortionTensor.Validate(images);
        if (images.dim() != 4) throw new ArgumentException("severity images must be a batch [N,3,H,W]");
        if (samples < 1) throw new ArgumentOutOfRangeException(nameof(samples), "need at least one sample");

        var rows = new List<SeverityStats>();
        var byOp = new Dictionary<string, List<double>>();
        foreach (var family in generator.EnabledFamilies)
        {
            var values = new List<double>();
            for (int i = 0; i < samples; i++)
            {
                var recipe = generator.SampleSingle(firstSeed + i, family);
                double v = Severity(generator, recipe, images);
                values.Add(v);
                if (family == DistortionFamily.ToneCurve)
                {
                    var op = recipe.Steps[0].Op;
                    if (!byOp.TryGetValue(op, out var l)) byOp[op] = l = [];
                    l.Add(v);
                }
            }
            rows.Add(Summarise(Name(family), values));
            if (family == DistortionFamily.ToneCurve)
                foreach (var (op, l) in byOp.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    rows.Add(Summarise("  tone: " + op, l));
        }
        var composed = new List<double>();
        for (int i = 0; i < samples; i++)
            composed.Add(Severity(generator, generator.Sample(firstSeed + i), images));
        rows.Add(Summarise($"composed ({generator.Options.MinOps}-{generator.Options.MaxOps} ops)", composed));
        return new SeverityReport(Metric, (int)images.shape[0], rows);
    }

    /// <summary>Images per Apply call in <see cref="Measure"/>; keeps the temporaries (and the heap) small.</summary>
    const int Chunk = 4;

    static double Severity(DistortionGenerator g, DistortionRecipe r, Tensor images)
    {
        long n = images.shape[0];
        double sum = 0;
        for (long i = 0; i < n; i += Chunk)
        {
            using var scope = NewDisposeScope();
            long len = Math.Min(Chunk, n - i);
            var part = images.narrow(0, i, len);
            sum += MeanDeltaE76(part, g.Apply(r, part)) * len; // equal-sized images: pixel mean = weighted chunk mean
        }
        return sum / n;
    }

    static string Name(DistortionFamily f) => f switch
    {
        DistortionFamily.WhiteBalance => "white balance",
        DistortionFamily.GainGamma => "gain + gamma",
        DistortionFamily.ToneCurve => "tone curve (all)",
        DistortionFamily.Saturation => "saturation",
        DistortionFamily.CrossTalk => "cross-talk",
        DistortionFamily.SplitToning => "split toning",
        DistortionFamily.Lut => "artistic LUT",
        _ => f.ToString(),
    };

    public static SeverityStats Summarise(string name, IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException($"no severity values for '{name}'");
        var s = values.OrderBy(v => v).ToArray();
        return new SeverityStats(name, s.Length, s.Average(), Percentile(s, 10), Percentile(s, 25), Percentile(s, 50),
            Percentile(s, 75), Percentile(s, 90), s[^1]);
    }

    /// <summary>Linear-interpolated percentile of sorted values.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double p)
    {
        double pos = (sorted.Count - 1) * p / 100.0;
        int lo = (int)Math.Floor(pos), hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }
}
