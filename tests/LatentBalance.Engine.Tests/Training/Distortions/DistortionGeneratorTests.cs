using LatentBalance.Engine.Color;
using LatentBalance.Training.Distortions;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Tests.Training.Distortions;

public class DistortionGeneratorTests
{
    static DistortionGenerator WithLuts(double lutProbability = 0.5) => new(new DistortionOptions
    {
        Luts = [WarmLut(9), CoolLut(7)],
        LutProbability = lutProbability,
    });

    /// <summary>An analytic "warm" LUT: boosts red, cuts blue, adds contrast on green.</summary>
    internal static Lut3D WarmLut(int size)
    {
        var id = Lut3D.Identity(size);
        var d = (float[])id.Data.Clone();
        for (int i = 0; i < d.Length; i += 3)
        {
            d[i] = MathF.Min(1, d[i] * 1.15f + 0.03f);
            d[i + 1] = d[i + 1] * d[i + 1] * (3 - 2 * d[i + 1]);
            d[i + 2] = d[i + 2] * 0.8f;
        }
        return new Lut3D(size, d) { Title = "warm" };
    }

    /// <summary>An analytic "cool, faded" LUT: lifts blacks, pushes blue, mutes red.</summary>
    internal static Lut3D CoolLut(int size)
    {
        var d = (float[])Lut3D.Identity(size).Data.Clone();
        for (int i = 0; i < d.Length; i += 3)
        {
            d[i] = 0.08f + 0.8f * d[i];
            d[i + 1] = 0.05f + 0.9f * d[i + 1];
            d[i + 2] = MathF.Sqrt(d[i + 2]);
        }
        return new Lut3D(size, d) { Title = "cool" };
    }

    [Fact]
    public void SameSeed_GivesIdenticalRecipeAndTensor()
    {
        var g = WithLuts();
        var img = TestImages.Colourful(32, 32);
        for (int seed = 0; seed < 20; seed++)
        {
            var r1 = g.Sample(seed);
            var r2 = new DistortionGenerator(g.Options).Sample(seed);
            Assert.True(r1.SameAs(r2), $"{r1} vs {r2}");
            using var a = g.Apply(r1, img);
            using var b = g.Apply(r2, img);
            Assert.Equal(TestImages.Values(a), TestImages.Values(b));
        }
    }

    [Fact]
    public void DifferentSeeds_GiveDifferentOutputs()
    {
        var g = WithLuts();
        var img = TestImages.Colourful(32, 32);
        var outputs = Enumerable.Range(0, 12).Select(s => g.Distort(img, s).Distorted).ToList();
        for (int i = 0; i < outputs.Count; i++)
            for (int j = i + 1; j < outputs.Count; j++)
                Assert.True(TestImages.MaxAbsDiff(outputs[i], outputs[j]) > 1e-3, $"seeds {i} and {j} gave the same image");
    }

    [Fact]
    public void Outputs_StayInUnitRange_AndKeepShape_For3dAnd4dInputs()
    {
        var g = WithLuts();
        var single = TestImages.Colourful(24, 40);
        var batch = stack(new[] { TestImages.Colourful(24, 40), TestImages.Colourful(24, 40, phase: 90) });
        for (int seed = 0; seed < 60; seed++)
        {
            var recipe = g.Sample(seed);
            using var a = g.Apply(recipe, single);
            using var b = g.Apply(recipe, batch);
            Assert.Equal(single.shape, a.shape);
            Assert.Equal(batch.shape, b.shape);
            Assert.Equal(ScalarType.Float32, b.dtype);
            Assert.True(a.min().item<float>() >= 0 && a.max().item<float>() <= 1, recipe.ToString());
            Assert.False(b.isnan().any().item<bool>(), recipe.ToString());
            // a batch gets the same recipe for every image
            Assert.True(TestImages.MaxAbsDiff(a, b[0]) < 1e-5, recipe.ToString());
        }
    }

    [Fact]
    public void Apply_DoesNotModifyInput_AndAcceptsFloat64()
    {
        var g = new DistortionGenerator();
        var img = TestImages.Colourful(16, 16);
        var before = TestImages.Values(img);
        using var outp = g.Apply(g.Sample(3), img.to_type(ScalarType.Float64));
        Assert.Equal(before, TestImages.Values(img));
        Assert.Equal(ScalarType.Float32, outp.dtype);
    }

    [Fact]
    public void Compositions_Have1To4Ops_FromDistinctFamilies_AndUseLuts()
    {
        var g = WithLuts(0.5);
        var counts = new int[5];
        int withLut = 0;
        var firstOps = new HashSet<string>();
        for (int seed = 0; seed < 400; seed++)
        {
            var r = g.Sample(seed);
            Assert.InRange(r.Steps.Count, 1, 4);
            counts[r.Steps.Count]++;
            var fams = g.Build(r).Select(op => op.Family).ToList();
            Assert.Equal(fams.Count, fams.Distinct().Count());
            if (fams.Contains(DistortionFamily.Lut)) withLut++;
            firstOps.Add(r.Steps[0].Op);
        }
        for (int n = 1; n <= 4; n++) Assert.True(counts[n] > 60, $"only {counts[n]} recipes with {n} ops");
        Assert.InRange(withLut, 150, 250); // ~50 %
        Assert.True(firstOps.Count >= 8, "ops should appear in random order: first ops seen " + string.Join(",", firstOps));
    }

    [Fact]
    public void NoLuts_MeansNoLutOps()
    {
        var g = new DistortionGenerator(new DistortionOptions { LutProbability = 1.0 });
        Assert.DoesNotContain(DistortionFamily.Lut, g.EnabledFamilies);
        for (int seed = 0; seed < 100; seed++)
            Assert.DoesNotContain(g.Sample(seed).Steps, s => s.Op == LutDistortion.OpName);
        Assert.Throws<InvalidOperationException>(() => g.SampleSingle(0, DistortionFamily.Lut));
    }

    [Fact]
    public void Recipe_RoundTripsThroughJson_AndReproducesTheImage()
    {
        var g = WithLuts(1.0);
        var img = TestImages.Colourful(16, 16);
        for (int seed = 0; seed < 30; seed++)
        {
            var r = g.Sample(seed);
            var json = r.ToJson();
            var back = DistortionRecipe.FromJson(json);
            Assert.True(r.SameAs(back), json);
            Assert.Equal(r.ToString(), back.ToString());
            using var a = g.Apply(r, img);
            using var b = g.Apply(back, img);
            Assert.Equal(TestImages.Values(a), TestImages.Values(b));
        }
    }

    [Fact]
    public void Recipe_ToString_IsReadable()
    {
        var g = WithLuts(1.0);
        var s = g.Sample(5).ToString();
        Assert.StartsWith("seed 5: ", s);
        Assert.Contains("lut('", s);
        var described = string.Join(" -> ", g.Build(g.Sample(5)).Select(o => o.Describe()));
        Assert.Contains("lut('", described);
    }

    [Fact]
    public void BadInputs_GiveClearErrors()
    {
        var g = new DistortionGenerator();
        var r = g.Sample(1);
        Assert.Contains("3 channels", Assert.Throws<ArgumentException>(() => g.Apply(r, zeros(4, 8, 8))).Message);
        Assert.Contains("[3,H,W]", Assert.Throws<ArgumentException>(() => g.Apply(r, zeros(8, 8))).Message);
        Assert.Contains("floating-point", Assert.Throws<ArgumentException>(() => g.Apply(r, zeros(new long[] { 3, 8, 8 }, ScalarType.Int32))).Message);
        Assert.Contains("unknown distortion op", Assert.Throws<ArgumentException>(() =>
            g.Build(new DistortionStep("blur", new Dictionary<string, double>()))).Message);
        Assert.Contains("missing parameter", Assert.Throws<ArgumentException>(() =>
            g.Build(new DistortionStep("exposure", new Dictionary<string, double>()))).Message);
        Assert.Contains("LUT #3", Assert.Throws<ArgumentException>(() =>
            g.Build(new DistortionStep("lut", new Dictionary<string, double> { ["index"] = 3, ["strength"] = 1 }))).Message);
        Assert.Throws<FormatException>(() => DistortionRecipe.FromJson("{not json"));
        Assert.Throws<ArgumentException>(() => new DistortionGenerator(new DistortionOptions { MinOps = 3, MaxOps = 2 }));
        Assert.Throws<ArgumentException>(() => new DistortionGenerator(new DistortionOptions { MaxOps = 9 }));
        Assert.Throws<ArgumentException>(() => new DistortionGenerator(new DistortionOptions { ExposureEv = new(1, -1) }));
    }
}
