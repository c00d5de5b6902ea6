using LatentBalance.Engine.Pipeline;
using LatentBalance.Training;
using Xunit.Abstractions;
using LatentBalance.Onnx;

namespace LatentBalance.Engine.Tests.Training;

/// <summary><c>latentbalance eval</c>'s engine on a few real validation photos with the test pack.</summary>
public class EvaluatorTests(ITestOutputHelper output)
{
    [Fact]
    public void ReportsEveryMethodAndThePerfectBalancerBeatsDoingNothing()
    {
        using var store = TestPack.Store();
        using var engine = EngineRuntime.Load(TestPack.Directory, EngineRuntime.Torch, "cpu", store);
        var report = new Evaluator(engine, new EvalOptions
        {
            PhotosDir = TestPaths.Photos, LutsDir = TestPaths.ArtisticLuts, MaxPhotos = 3,
            IterationCases = 2, CleanCases = 2, Oracle = true,
        }).Run();
        foreach (var s in report.Distorted) output.WriteLine($"{s.Method}: mean dE00 {s.MeanDe:F2}, PSNR {s.MeanPsnr:F1}");
        Assert.Equal(["none", "grey-world", "latent", "oracle (clean latent)"], report.Distorted.Select(s => s.Method));
        Assert.All(report.Distorted, s => Assert.Equal(3, s.Cases));
        var none = report.Distorted[0];
        var oracle = report.Distorted[3];
        // the clean photo's own latent as the target: the VAE, fit and LUT bring most of the way back
        Assert.True(none.MeanDe > 2, $"the distortions should be visible (dE00 {none.MeanDe})");
        Assert.True(oracle.MeanDe < none.MeanDe * 0.5, $"oracle {oracle.MeanDe} vs none {none.MeanDe}");
        Assert.Equal(2, report.Iterations1!.Cases);
        Assert.Equal(2, report.IterationsN!.Cases);
        Assert.Equal(2, report.CleanMovement!.Cases);
    }
}
