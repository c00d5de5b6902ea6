using System.Text.Json;

namespace LatentBalance.Engine.Tests.Cli;

/// <summary>`latentbalance train` and `eval` as a user runs them, on a few real photos: two dataset
/// caches with different seeds, a fit on both with the colour term, then an eval of the result.</summary>
public class TrainCommandTests
{
    [Fact]
    public void DatasetsWithTwoSeedsTrainTogetherAndTheResultEvaluates()
    {
        var dir = TestPaths.TempDir("train-cli");
        string a = Path.Combine(dir, "cache-a"), b = Path.Combine(dir, "cache-b"), run = Path.Combine(dir, "run");
        string[] common = ["--photos", TestPaths.Photos, "--luts", TestPaths.ArtisticLuts, "--max-photos", "3", "--variants", "1"];

        var r = CliRunner.Run(null, ["train", "--stage", "dataset", "--cache", a, .. common]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Single(Directory.GetFiles(Path.Combine(a, "train"), "shard-*"));
        Assert.Single(Directory.GetFiles(Path.Combine(a, "val"), "shard-*"));

        r = CliRunner.Run(null, ["train", "--stage", "dataset", "--cache", b, "--seed", "2027", "--splits", "train", .. common]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Single(Directory.GetFiles(Path.Combine(b, "train"), "shard-*"));
        Assert.False(Directory.Exists(Path.Combine(b, "val")));
        Assert.Contains("seed", File.ReadAllText(Path.Combine(b, "train", "manifest.json")), StringComparison.OrdinalIgnoreCase);
        Assert.Contains("2027", File.ReadAllText(Path.Combine(b, "train", "manifest.json")));

        // the dataset stage builds one cache; naming two is refused with a reason
        r = CliRunner.Run(null, ["train", "--stage", "dataset", "--cache", a, "--cache", b, .. common]);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--cache", r.Stderr);

        r = CliRunner.Run(null, "train", "--stage", "fit", "--cache", a, "--out", run, "--global-quantiles", "0.5,x");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--global-quantiles: 'x' is not a number", r.Stderr);
        r = CliRunner.Run(null, "train", "--stage", "fit", "--cache", a, "--out", run, "--global-quantiles", "0.5,2");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("global_quantiles level 2 is not in 0..1", r.Stderr);

        r = CliRunner.Run(null, "train", "--stage", "fit", "--cache", a, "--cache", b, "--out", run,
            "--width", "16", "--blocks", "2", "--batch", "2", "--epochs", "2", "--global-quantiles", "0.1, 0.5,0.9", "--trunk-global");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("colour probe: R2", r.Stderr);
        Assert.True(File.Exists(Path.Combine(a, "color_probe.safetensors")));
        using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "training.json"))))
        {
            Assert.Equal(6, summary.RootElement.GetProperty("pairs").GetInt32());   // 3 photos x 1 variant, from each cache
            Assert.Equal(30, summary.RootElement.GetProperty("colorWeight").GetDouble());
            Assert.True(summary.RootElement.GetProperty("history").GetArrayLength() == 2);
        }
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "balancer", "balancer.json"))))
        {
            Assert.Equal(2, config.RootElement.GetProperty("head_blocks").GetInt32());
            Assert.Equal([0.1f, 0.5f, 0.9f], config.RootElement.GetProperty("global_quantiles").EnumerateArray().Select(e => e.GetSingle()));
            Assert.True(config.RootElement.GetProperty("trunk_global").GetBoolean());
        }

        // the calibrated-strength head, fitted on the trained balancer (frozen) from the same caches
        var strengthRun = Path.Combine(dir, "strength");
        r = CliRunner.Run(null, "train", "--stage", "strength", "--cache", a, "--cache", b, "--balancer", Path.Combine(run, "balancer"),
            "--out", strengthRun, "--strength-hidden", "8", "--strength-steps", "600", "--strength-color-stats");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("mean strength", r.Stderr);
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(strengthRun, "balancer", "balancer.json"))))
        {
            Assert.Equal(8, config.RootElement.GetProperty("strength_head").GetInt32());
            Assert.True(config.RootElement.GetProperty("strength_color_stats").GetBoolean());
            Assert.Equal(2, config.RootElement.GetProperty("head_blocks").GetInt32());
        }
        using (var sr = JsonDocument.Parse(File.ReadAllText(Path.Combine(strengthRun, "strength.json"))))
        {
            // twelve samples are too few to ask for a good head (docs/MODEL.md measures one on the real cache);
            // here: the step was picked on the held-out samples, strengths stay inside (0, strength_max) and
            // every score is a number
            var rep = sr.RootElement.GetProperty("report");
            Assert.InRange(rep.GetProperty("BestStep").GetInt32(), 100, 600);
            Assert.InRange(rep.GetProperty("MeanStrengthDistorted").GetDouble(), 1e-6, 2 - 1e-6);
            Assert.InRange(rep.GetProperty("MeanStrengthIdentity").GetDouble(), 1e-6, 2 - 1e-6);
            foreach (var p in rep.EnumerateObject()) Assert.True(double.IsFinite(p.Value.GetDouble()), p.Name);
        }
        r = CliRunner.Run(null, "train", "--stage", "strenght", "--cache", a, "--out", strengthRun);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--stage: 'strenght'", r.Stderr);

        var pack = Path.Combine(dir, "pack");
        Directory.CreateDirectory(pack);
        File.Copy(Path.Combine(TestPack.Directory, "pack.json"), Path.Combine(pack, "pack.json"));
        Directory.CreateDirectory(Path.Combine(pack, "vae"));
        File.Copy(TestPack.Taef2Config, Path.Combine(pack, "vae", "config.json"));
        Directory.CreateDirectory(Path.Combine(pack, "balancer"));
        foreach (var f in new[] { "balancer.json", "balancer.safetensors" })
            File.Copy(Path.Combine(strengthRun, "balancer", f), Path.Combine(pack, "balancer", f));
        var json = Path.Combine(dir, "eval.json");
        var curve = Path.Combine(dir, "curve.png");
        r = CliRunner.Run(null, "eval", "--pack", pack, "--photos", TestPaths.Photos, "--luts", TestPaths.ArtisticLuts,
            "--max-photos", "2", "--iteration-cases", "1", "--clean-cases", "2", "--oracle", "--json", json, "--curve", curve);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("| oracle (clean latent) | 2 |", r.Stdout);
        Assert.Contains("| shift L* | shift a* | shift b* |", r.Stdout);
        Assert.Contains("| latent on scene-colour clean photos (movement) | 1 |", r.Stdout);   // 20% of 2, rounded up
        Assert.Contains("the pack's own strength: mean", r.Stdout);
        using var report = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(4, report.RootElement.GetProperty("Distorted").GetArrayLength());
        var points = report.RootElement.GetProperty("Curve").EnumerateArray().ToList();
        Assert.Equal(7, points.Count);
        // strength 0 is the input: clean photos do not move at all
        Assert.Equal(0, points[0].GetProperty("CleanMoved").GetDouble(), 6);
        Assert.True(new FileInfo(curve).Length > 1000);
        r = CliRunner.Run(null, "eval", "--pack", pack, "--photos", TestPaths.Photos, "--split", "test");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--split: 'test' is not val or train", r.Stderr);
        // a second run draws the first one's curve beside its own
        r = CliRunner.Run(null, "eval", "--pack", pack, "--photos", TestPaths.Photos, "--luts", TestPaths.ArtisticLuts,
            "--max-photos", "1", "--iteration-cases", "0", "--clean-cases", "1", "--curve", curve, "--curve-baseline", json);
        Assert.True(r.ExitCode == 0, r.Stderr);
    }
}
