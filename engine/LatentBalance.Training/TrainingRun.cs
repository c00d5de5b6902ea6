using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LatentBalance.Engine.Balancer;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Engine.Runtime;
using static TorchSharp.torch;

namespace LatentBalance.Training;

/// <summary>
/// Runs a <see cref="TrainingRecipe"/>'s stages with a pack's VAE: the dataset (the latent cache), the fit (the
/// balancer, with <c>training.json</c> and <c>loss.png</c>) or the strength head (<c>strength.json</c>); the
/// trained balancer goes to <c>OutDir/balancer</c>. Progress goes to <c>log</c>, one line each.
/// </summary>
public static class TrainingRun
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static void Run(TrainingRecipe recipe, ModelPack pack, Device device, Action<string> log, CancellationToken cancel = default)
    {
        if (recipe.Caches.Length == 0) recipe = recipe with { Caches = [TrainingRecipe.DefaultCache()] };
        recipe.Validate();
        var sw = Stopwatch.StartNew();
        if (recipe.Stage is "dataset" or "all")
        {
            BuildDataset(recipe, pack, device, log, cancel);
            log($"dataset ready in {sw.Elapsed.TotalMinutes:F1} min");
        }
        if (recipe.Stage is "fit" or "all") Fit(recipe, pack, device, log, cancel);
        if (recipe.Stage == "strength") FitStrength(recipe, pack, device, log, sw, cancel);
    }

    static void BuildDataset(TrainingRecipe recipe, ModelPack pack, Device device, Action<string> log, CancellationToken cancel)
    {
        using var store = new ModelStore();
        using var vae = pack.LoadVae(store, device, cancel);
        string[] splits = recipe.Splits switch
        {
            "both" => [LatentDatasetBuilder.Validation, LatentDatasetBuilder.Train],
            "val" => [LatentDatasetBuilder.Validation],
            _ => [LatentDatasetBuilder.Train],
        };
        var builder = new LatentDatasetBuilder(vae, recipe);
        foreach (var split in splits)
        {
            int lastPct = -1;
            builder.Build(split, new Progress<DatasetProgress>(p =>
            {
                int pct = p.Done * 100 / Math.Max(1, p.Total);
                if (pct / 5 != lastPct / 5) { lastPct = pct; log($"dataset {p.Split}: {p.Done}/{p.Total} ({p.Elapsed.TotalSeconds:F0} s)"); }
            }), cancel);
        }
    }

    static void Fit(TrainingRecipe recipe, ModelPack pack, Device device, Action<string> log, CancellationToken cancel)
    {
        using var train = LatentDatasetBuilder.Load(recipe.Caches, LatentDatasetBuilder.Train);
        using var val = LatentDatasetBuilder.Load(recipe.Caches[0], LatentDatasetBuilder.Validation);
        var config = recipe.ConfigFor(train.Channels, pack.VaeName);
        ColorProbe? probe = null;
        double? identityColorMse = null;
        if (recipe.ColorWeight > 0)
        {
            probe = LoadProbe(pack, recipe.Caches[0], train, device, cancel);
            identityColorMse = BalancerTrainer.IdentityColorMse(val, probe);
            log($"colour probe: R2 {probe.R2:F3}; colour MSE of doing nothing on validation {identityColorMse:F5}");
        }
        var trainer = new BalancerTrainer();
        log($"training on {train.Count} pairs ({val.Count} validation), {recipe.Epochs} epochs of {train.Count / recipe.BatchSize} steps");
        var sw = Stopwatch.StartNew();
        using var net = trainer.Train(train, val, config, recipe, probe, new Progress<TrainProgress>(p =>
        {
            log($"step {p.Step}/{p.TotalSteps} epoch {p.Epoch} loss {p.Loss:F4} ({p.Elapsed.TotalSeconds:F0} s)"
                + (p.EpochEnd is { } h ? $"; latent MSE train {h.TrainMse:F4}, validation {h.ValidationMse:F4}" : "")
                + (p.EpochEnd?.ValidationColorMse is { } c ? $"; colour MSE train {p.EpochEnd.TrainColorMse:F5}, validation {c:F5}" : ""));
        }), cancel);
        var final = Path.Combine(recipe.OutDir, "balancer");
        var (valLoss, valMse, valColorMse) = BalancerTrainer.Measure(net, val, recipe.BatchSize, probe: probe);
        double identityMse = BalancerTrainer.IdentityMse(val);
        net.Save(final, new Dictionary<string, string>
        {
            ["steps"] = (trainer.History.LastOrDefault()?.Step ?? 0).ToString(),
            ["best_step"] = (trainer.Best?.Step ?? trainer.History.LastOrDefault()?.Step ?? 0).ToString(),
            ["validation_loss"] = valLoss.ToString("R", CultureInfo.InvariantCulture),
            ["validation_mse"] = valMse.ToString("R", CultureInfo.InvariantCulture),
        });
        var summary = new
        {
            caches = recipe.Caches, pairs = train.Count, identityFraction = recipe.IdentityFraction, best = trainer.Best, validationPairs = val.Count,
            recipe.Epochs, recipe.BatchSize, recipe.LearningRate, steps = trainer.History.LastOrDefault()?.Step, wallSeconds = sw.Elapsed.TotalSeconds,
            validationLoss = valLoss, validationMse = valMse, validationIdentityMse = identityMse, colorProbeR2 = probe?.R2, colorWeight = recipe.ColorWeight,
            validationColorMse = valColorMse, validationIdentityColorMse = identityColorMse, history = trainer.History,
        };
        File.WriteAllText(Path.Combine(recipe.OutDir, "training.json"), JsonSerializer.Serialize(summary, Indented));
        LossPlot.Write(Path.Combine(recipe.OutDir, "loss.png"), trainer.History);
        probe?.Dispose();
        log($"trained in {sw.Elapsed.TotalMinutes:F1} min; validation latent MSE {valMse:F4} (doing nothing: {identityMse:F4}), loss {valLoss:F4}{(trainer.Best is { } b ? $" (best epoch, step {b.Step})" : "")}; weights in {final}");
    }

    static void FitStrength(TrainingRecipe recipe, ModelPack pack, Device device, Action<string> log, Stopwatch sw, CancellationToken cancel)
    {
        using var train = LatentDatasetBuilder.Load(recipe.Caches, LatentDatasetBuilder.Train);
        using var val = LatentDatasetBuilder.Load(recipe.Caches[0], LatentDatasetBuilder.Validation);
        using var probe = LoadProbe(pack, recipe.Caches[0], train, device, cancel);
        var source = recipe.Balancer ?? Path.Combine(pack.Directory, pack.Manifest.Balancer);
        using var frozen = BalancerNet.Load(source);
        manual_seed(recipe.StrengthSeed);   // the new head's initial weights too: a run repeats bit for bit
        using var net = new BalancerNet(frozen.Config with { StrengthHead = recipe.StrengthHidden, StrengthColorStats = recipe.StrengthColorStats, StrengthScale = recipe.StrengthScale });
        net.CopyMatchingFrom(frozen);
        var report = StrengthHeadTrainer.Train(net, train, val, probe, recipe, new Progress<string>(log), cancel);
        var final = Path.Combine(recipe.OutDir, "balancer");
        net.Save(final, new Dictionary<string, string> { ["strength_head_from"] = Path.GetFullPath(source) });
        File.WriteAllText(Path.Combine(recipe.OutDir, "strength.json"), JsonSerializer.Serialize(
            new { source, caches = recipe.Caches, Steps = recipe.StrengthSteps, IdentityWeight = recipe.StrengthIdentityWeight, report }, Indented));
        log($"strength head in {sw.Elapsed.TotalMinutes:F1} min; validation RMS read-out error on distorted latents: none {report.DistortedNone:F4}, balancer {report.DistortedBalancer:F4}, with the head {report.DistortedHead:F4} (best per latent {report.DistortedBestPerImage:F4}); on clean latents: balancer {report.IdentityBalancer:F4}, with the head {report.IdentityHead:F4}; mean strength {report.MeanStrengthDistorted:F2} distorted, {report.MeanStrengthIdentity:F2} clean; weights in {final}");
    }

    /// <summary>The cache's colour read-out, fitted on decodes of its clean training latents the first time.</summary>
    static ColorProbe LoadProbe(ModelPack pack, string cacheDir, LatentPairs train, Device device, CancellationToken cancel)
    {
        var probePath = Path.Combine(cacheDir, "color_probe.safetensors");
        if (File.Exists(probePath)) return ColorProbe.Load(probePath);
        using var store = new ModelStore();
        using var vae = pack.LoadVae(store, device, cancel);
        using var sample = train.Clean.index_select(0, arange(HeldScalars.Of(0L), HeldScalars.Of((long)Math.Min(train.Count, 1024)), HeldScalars.Of(4L)));   // every 4th of the first 1024
        var probe = ColorProbe.Fit(vae, sample);
        probe.Save(probePath);
        return probe;
    }
}
