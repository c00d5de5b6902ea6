using LatentBalance.Training.Distortions;
using NetVips;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Tests.Training.Distortions;

public class DistortionSeverityTests(ITestOutputHelper output)
{
    static readonly DistortionGenerator Generator = new(new DistortionOptions
    {
        Luts = [DistortionGeneratorTests.WarmLut(9), DistortionGeneratorTests.CoolLut(9)],
    });

    [Fact]
    public void Lab_OfWhiteAndBlack_AndDeltaEOfIdenticalImages()
    {
        using var lab = DistortionSeverity.SrgbToLab(tensor(new float[] { 1, 0, 1, 0, 1, 0 }, new long[] { 1, 3, 1, 2 }));
        var v = TestImages.Values(lab); // [L(white), L(black), a.., b..]
        Assert.Equal(100f, v[0], 2); Assert.Equal(0f, v[1], 3);
        Assert.Equal(0f, v[2], 2); Assert.Equal(0f, v[4], 2);
        var img = TestImages.Colourful();
        Assert.Equal(0.0, DistortionSeverity.MeanDeltaE76(img, img), 6);
        // sRGB pure red is L*=53.24, a*=80.09, b*=67.20
        using var red = DistortionSeverity.SrgbToLab(tensor(new float[] { 1, 0, 0 }, new long[] { 3, 1, 1 }));
        var r = TestImages.Values(red);
        Assert.Equal(53.24, r[0], 1); Assert.Equal(80.09, r[1], 1); Assert.Equal(67.20, r[2], 1);
    }

    [Theory]
    [InlineData(DistortionFamily.WhiteBalance)]
    [InlineData(DistortionFamily.GainGamma)]
    [InlineData(DistortionFamily.ToneCurve)]
    [InlineData(DistortionFamily.Saturation)]
    [InlineData(DistortionFamily.CrossTalk)]
    [InlineData(DistortionFamily.SplitToning)]
    [InlineData(DistortionFamily.Lut)]
    public void EachFamily_ChangesAColourfulImageMeasurably(DistortionFamily family)
    {
        var img = TestImages.Colourful(48, 48);
        var values = new List<double>();
        for (int seed = 0; seed < 25; seed++)
        {
            var recipe = Generator.SampleSingle(seed, family);
            using var d = Generator.Apply(recipe, img);
            double de = DistortionSeverity.MeanDeltaE76(img, d);
            values.Add(de);
            Assert.True(de > 0.5, $"{recipe}: mean ΔE76 only {de:0.00}");
        }
        double median = DistortionSeverity.Percentile(values.OrderBy(x => x).ToList(), 50);
        output.WriteLine($"{family}: median ΔE76 {median:0.0}, min {values.Min():0.0}, max {values.Max():0.0}");
        Assert.InRange(median, 2.0, 40.0);
    }

    [Fact]
    public void Measure_ReportsEveryFamilyAndComposition()
    {
        var batch = stack(new[] { TestImages.Colourful(32, 32), TestImages.Colourful(32, 32, phase: 45) });
        var report = DistortionSeverity.Measure(Generator, batch, samples: 12);
        Assert.Equal(7, Generator.EnabledFamilies.Count);
        var familyRows = report.Rows.Where(r => r.Samples == 12 && !r.Name.StartsWith("  tone:")).ToList();
        Assert.Equal(Generator.EnabledFamilies.Count + 1, familyRows.Count); // + composed
        Assert.All(familyRows, r => Assert.True(r.Mean > 0, r.ToString()));
        Assert.Contains(report.Rows, r => r.Name.StartsWith("composed"));
        Assert.Contains(report.Rows, r => r.Name.Contains("tone: exposure") || r.Name.Contains("tone: fade"));
        foreach (var r in report.Rows)
            Assert.True(r.P10 <= r.P50 && r.P50 <= r.P90 && r.P90 <= r.Max, r.ToString());
        var md = report.ToMarkdown();
        Assert.Contains("| white balance |", md);
        output.WriteLine(md);
    }

    /// <summary>
    /// The table in docs/DISTORTIONS.md: default options plus the artistic .cube LUTs, 30 seeds per row (LB_SEVERITY_SAMPLES),
    /// applied to a batch of real photos (224x224 centre crops). Takes minutes, so it only runs when
    /// LB_SEVERITY_REPORT=1; it then also writes the table to $LB_SEVERITY_REPORT_OUT if set.
    /// </summary>
    [Fact]
    public void SeverityReport_OnPhotos_WhenRequested()
    {
        if (Environment.GetEnvironmentVariable("LB_SEVERITY_REPORT") != "1")
        {
            output.WriteLine("not run: set LB_SEVERITY_REPORT=1 to measure the severity table on photos");
            return;
        }
        int samples = int.TryParse(Environment.GetEnvironmentVariable("LB_SEVERITY_SAMPLES"), out var s) ? s : 30;
        var luts = Directory.GetFiles(TestPaths.ArtisticLuts).Where(f => f.EndsWith(".cube", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal).Select(MiniCubeReader.Read).ToList();
        var gen = new DistortionGenerator(new DistortionOptions { Luts = luts });
        using var photos = LoadPhotos(perFolder: 3);
        var report = DistortionSeverity.Measure(gen, photos, samples);
        var md = $"{report.Images} photos (224x224), {luts.Count} LUTs, {samples} seeds per row\n\n" + report.ToMarkdown();
        output.WriteLine(md);
        var outPath = Environment.GetEnvironmentVariable("LB_SEVERITY_REPORT_OUT");
        if (!string.IsNullOrEmpty(outPath))
        {
            var tmp = outPath + ".tmp";
            File.WriteAllText(tmp, md);
            File.Move(tmp, outPath, overwrite: true);
        }
        Assert.All(report.Rows, r => Assert.True(r.P50 > 0.5, r.ToString()));
    }

    /// <summary>The first few photos (ordinal order) of each folder, 224x224 centre crops, as [N,3,224,224].</summary>
    static Tensor LoadPhotos(int perFolder)
    {
        var tiles = new List<Tensor>();
        foreach (var dir in Directory.GetDirectories(TestPaths.Photos).Order(StringComparer.Ordinal))
            foreach (var file in Directory.GetFiles(dir, "*.jpg").Order(StringComparer.Ordinal).Take(perFolder))
            {
                using var im = Image.Thumbnail(file, 224, height: 224, crop: Enums.Interesting.Centre);
                using var rgb = im.Bands >= 3 ? im.ExtractBand(0, 3) : im.Bandjoin(im, im);
                var bytes = rgb.Cast(Enums.BandFormat.Uchar).WriteToMemory<byte>();
                tiles.Add(tensor(bytes, new long[] { rgb.Height, rgb.Width, 3 }).permute(2, 0, 1).to_type(ScalarType.Float32) / 255f);
            }
        if (tiles.Count == 0) throw new InvalidOperationException("no photos under " + TestPaths.Photos);
        return stack(tiles);
    }
}
