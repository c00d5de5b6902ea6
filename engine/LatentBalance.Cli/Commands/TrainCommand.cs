using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using LatentBalance.Engine.Balancer;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Training;
using LatentBalance.Engine.Runtime;

namespace LatentBalance.Cli.Commands;

/// <summary>
/// <c>latentbalance train</c>: build the latent cache (encode once) and train the balancer on it
/// (many epochs on cached latents), writing checkpoints, a loss plot and the final weights.
/// </summary>
static class TrainCommand
{
    public static Command Create()
    {
        var photos = new Option<string>("--photos") { Description = "folder of clean photos", DefaultValueFactory = _ => "../shared/data/photos" };
        var luts = new Option<string?>("--luts") { Description = "folder of .cube LUTs used as distortions", DefaultValueFactory = _ => "../shared/data/luts/artistic" };
        var cache = new Option<string[]>("--cache") { Description = "latent cache folder (never in git); fit: repeat it to train on several caches (validation comes from the first)", DefaultValueFactory = _ => [DefaultCache()] };
        var seed = new Option<int>("--seed") { Description = "dataset seed (crops and distortions); a new seed in a new cache folder gives more pairs", DefaultValueFactory = _ => 2026 };
        var splits = new Option<string>("--splits") { Description = "dataset: which splits to build (val, train or both)", DefaultValueFactory = _ => "both" };
        var identity = new Option<double>("--identity") { Description = "fit: share of each batch trained as identity pairs (clean latent in, clean latent out)", DefaultValueFactory = _ => 0.15 };
        var output = new Option<string>("--out") { Description = "folder for checkpoints and the trained balancer", DefaultValueFactory = _ => "artifacts/train" };
        var variants = new Option<int>("--variants") { Description = "distorted variants per photo", DefaultValueFactory = _ => 4 };
        var maxPhotos = new Option<int>("--max-photos") { Description = "use at most this many photos per split (0: all)" };
        var epochs = new Option<int>("--epochs") { DefaultValueFactory = _ => 20 };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 32 };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => 1e-3 };
        var maxSteps = new Option<int>("--max-steps") { Description = "stop after this many steps (0: no limit)" };
        var maxMinutes = new Option<double>("--max-minutes") { Description = "wall-time budget for the fit (0: none)" };
        var width = new Option<int>("--width") { DefaultValueFactory = _ => 64 };
        var blocks = new Option<int>("--blocks") { DefaultValueFactory = _ => 4 };
        var headBlocks = new Option<int>("--head-blocks") { Description = "pointwise blocks at full latent resolution after the trunk", DefaultValueFactory = _ => 2 };
        var quantiles = new Option<string>("--global-quantiles") { Description = "quantile levels of each latent channel fed to the global branch beside mean and std, comma-separated (empty: mean and std only)", DefaultValueFactory = _ => "" };
        var trunkGlobal = new Option<bool>("--trunk-global") { Description = "also modulate the head blocks from the trunk's output averaged over the frame" };
        var colorWeight = new Option<double>("--color-weight") { Description = "fit: weight of the colour term (a linear colour read-out of the latent, fitted on decodes and kept in the cache); 0: latent loss only", DefaultValueFactory = _ => 30.0 };
        var stage = new Option<string>("--stage") { Description = "dataset, fit, all (dataset then fit) or strength (fit the calibrated-strength head of a trained balancer)", DefaultValueFactory = _ => "all" };
        var balancerDir = new Option<string?>("--balancer") { Description = "strength: the trained balancer folder to add the head to (default: the pack's; a head it already has is the starting point); fit: start from it (a fine-tune) unless a checkpoint resumes" };
        var strengthHidden = new Option<int>("--strength-hidden") { Description = "strength: hidden width of the head", DefaultValueFactory = _ => 64 };
        var strengthSteps = new Option<int>("--strength-steps") { Description = "strength: optimiser steps (the step with the lowest held-out loss is kept)", DefaultValueFactory = _ => new StrengthTrainOptions().Steps };
        var strengthColor = new Option<bool>("--strength-color-stats") { Description = "strength: also feed the head whole-photo colour statistics (of the colour read-out)" };
        var strengthScale = new Option<float>("--strength-scale") { Description = "strength: factor on the head's strength (strength_scale; pick it with eval --split train --curve-strengths)", DefaultValueFactory = _ => 1f };
        var strengthIdentity = new Option<double>("--strength-identity-weight") { Description = "strength: weight of the clean (leave-alone) samples against the distorted ones", DefaultValueFactory = _ => 1.0 };
        var pack = BalanceCommand.Pack;
        var cmd = new Command("train", "Build the latent dataset and train the balancer.")
        {
            photos, luts, cache, seed, splits, identity, output, variants, maxPhotos, epochs, batch, lr, maxSteps, maxMinutes, width, blocks, headBlocks, quantiles, trunkGlobal, colorWeight, stage, balancerDir, strengthHidden, strengthSteps, strengthIdentity, strengthColor, strengthScale, pack, BalanceCommand.Device,
        };
        cmd.SetAction((pr, ct) =>
        {
            try
            {
                var dev = Devices.Resolve(pr.GetValue(BalanceCommand.Device));
                var packDir = ModelPack.Open(pr.GetValue(pack) ?? ModelPack.DefaultDirectory());
                var st = pr.GetValue(stage)!;
                var cacheDirs = pr.GetValue(cache)!;
                if (cacheDirs.Length == 0) cacheDirs = [DefaultCache()];
                var cacheDir = cacheDirs[0];
                if (st is not ("dataset" or "fit" or "all" or "strength")) throw new ArgumentException($"--stage: '{st}' is not dataset, fit, all or strength");
                if (st is "dataset" or "all" && cacheDirs.Length > 1) throw new ArgumentException("--cache: the dataset stage builds one cache; name one folder");
                var sw = Stopwatch.StartNew();
                if (st is "dataset" or "all")
                {
                    using var store = new ModelStore();
                    using var vae = packDir.LoadVae(store, dev, ct);
                    var opts = new DatasetOptions
                    {
                        PhotosDir = pr.GetValue(photos)!, LutsDir = pr.GetValue(luts), CacheDir = cacheDir,
                        VariantsPerPhoto = pr.GetValue(variants), MaxPhotos = pr.GetValue(maxPhotos), Seed = pr.GetValue(seed),
                    };
                    var wanted = pr.GetValue(splits) switch
                    {
                        "both" => new[] { LatentDatasetBuilder.Validation, LatentDatasetBuilder.Train },
                        "val" => [LatentDatasetBuilder.Validation],
                        "train" => [LatentDatasetBuilder.Train],
                        var other => throw new ArgumentException($"--splits: '{other}' is not val, train or both"),
                    };
                    var builder = new LatentDatasetBuilder(vae, opts);
                    foreach (var split in wanted)
                    {
                        int lastPct = -1;
                        builder.Build(split, new Progress<DatasetProgress>(p =>
                        {
                            int pct = p.Done * 100 / Math.Max(1, p.Total);
                            if (pct / 5 != lastPct / 5) { lastPct = pct; Console.Error.WriteLine($"dataset {p.Split}: {p.Done}/{p.Total} ({p.Elapsed.TotalSeconds:F0} s)"); }
                        }), ct);
                    }
                    Console.Error.WriteLine($"dataset ready in {sw.Elapsed.TotalMinutes:F1} min");
                }
                if (st is "fit" or "all")
                {
                    using var train = LatentDatasetBuilder.Load(cacheDirs, LatentDatasetBuilder.Train);
                    using var val = LatentDatasetBuilder.Load(cacheDir, LatentDatasetBuilder.Validation);
                    var cfg = new BalancerConfig { LatentChannels = train.Channels, Width = pr.GetValue(width), NumBlocks = pr.GetValue(blocks), HeadBlocks = pr.GetValue(headBlocks),
                        GlobalQuantiles = ParseLevels(pr.GetValue(quantiles) ?? ""), TrunkGlobal = pr.GetValue(trunkGlobal), Vae = packDir.VaeName };
                    cfg = cfg with { AttentionAfter = cfg.NumBlocks >= 2 ? [cfg.NumBlocks / 2 - 1, cfg.NumBlocks - 1] : [0] };
                    ColorProbe? probe = null;
                    double? identityColorMse = null;
                    if (pr.GetValue(colorWeight) > 0)
                    {
                        probe = LoadProbe(packDir, cacheDir, train, dev, ct);
                        identityColorMse = BalancerTrainer.IdentityColorMse(val, probe);
                        Console.Error.WriteLine($"colour probe: R2 {probe.R2:F3}; colour MSE of doing nothing on validation {identityColorMse:F5}");
                    }
                    var outDir = pr.GetValue(output)!;
                    var trainer = new BalancerTrainer();
                    var opts = new TrainOptions
                    {
                        Epochs = pr.GetValue(epochs), BatchSize = pr.GetValue(batch), LearningRate = pr.GetValue(lr),
                        MaxSteps = pr.GetValue(maxSteps), IdentityFraction = pr.GetValue(identity), ColorProbe = probe, ColorWeight = pr.GetValue(colorWeight), InitFrom = pr.GetValue(balancerDir), MaxMinutes = pr.GetValue(maxMinutes), CheckpointDir = Path.Combine(outDir, "checkpoints"),
                    };
                    Console.Error.WriteLine($"training on {train.Count} pairs ({val.Count} validation), {opts.Epochs} epochs of {train.Count / opts.BatchSize} steps");
                    var fitSw = Stopwatch.StartNew();
                    using var net = trainer.Train(train, val, cfg, opts, new Progress<TrainProgress>(p =>
                    {
                        Console.Error.WriteLine($"step {p.Step}/{p.TotalSteps} epoch {p.Epoch} loss {p.Loss:F4} ({p.Elapsed.TotalSeconds:F0} s)"
                            + (p.EpochEnd is { } h ? $"; latent MSE train {h.TrainMse:F4}, validation {h.ValidationMse:F4}" : "")
                            + (p.EpochEnd?.ValidationColorMse is { } c ? $"; colour MSE train {p.EpochEnd.TrainColorMse:F5}, validation {c:F5}" : ""));
                    }), ct);
                    var final = Path.Combine(outDir, "balancer");
                    var (valLoss, valMse, valColorMse) = BalancerTrainer.Measure(net, val, opts.BatchSize, probe: probe);
                    double identityMse = BalancerTrainer.IdentityMse(val);
                    BalancerWeights.Save(net, final, new Dictionary<string, string>
                    {
                        ["steps"] = (trainer.History.LastOrDefault()?.Step ?? 0).ToString(),
                        ["best_step"] = (trainer.Best?.Step ?? trainer.History.LastOrDefault()?.Step ?? 0).ToString(),
                        ["validation_loss"] = valLoss.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
                        ["validation_mse"] = valMse.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
                    });
                    var summary = new { caches = cacheDirs, pairs = train.Count, identityFraction = opts.IdentityFraction, best = trainer.Best, validationPairs = val.Count, opts.Epochs, opts.BatchSize, opts.LearningRate, steps = trainer.History.LastOrDefault()?.Step, wallSeconds = fitSw.Elapsed.TotalSeconds, validationLoss = valLoss, validationMse = valMse, validationIdentityMse = identityMse, colorProbeR2 = probe?.R2, colorWeight = opts.ColorWeight, validationColorMse = valColorMse, validationIdentityColorMse = identityColorMse, history = trainer.History };
                    File.WriteAllText(Path.Combine(outDir, "training.json"), JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }));
                    LossPlot.Write(Path.Combine(outDir, "loss.png"), trainer.History);
                    Console.Error.WriteLine($"trained in {fitSw.Elapsed.TotalMinutes:F1} min; validation latent MSE {valMse:F4} (doing nothing: {identityMse:F4}), loss {valLoss:F4}{(trainer.Best is { } b ? $" (best epoch, step {b.Step})" : "")}; weights in {final}");
                }
                if (st == "strength")
                {
                    using var train = LatentDatasetBuilder.Load(cacheDirs, LatentDatasetBuilder.Train);
                    using var val = LatentDatasetBuilder.Load(cacheDir, LatentDatasetBuilder.Validation);
                    using var probe = LoadProbe(packDir, cacheDir, train, dev, ct);
                    var source = pr.GetValue(balancerDir) ?? Path.Combine(packDir.Directory, packDir.Manifest.Balancer);
                    using var frozen = BalancerWeights.Load(source);
                    var opts = new StrengthTrainOptions { Steps = pr.GetValue(strengthSteps), IdentityWeight = pr.GetValue(strengthIdentity) };
                    TorchSharp.torch.manual_seed(opts.Seed);   // the new head's initial weights too: a run repeats bit for bit
                    using var net = new BalancerNet(frozen.Config with { StrengthHead = pr.GetValue(strengthHidden), StrengthColorStats = pr.GetValue(strengthColor), StrengthScale = pr.GetValue(strengthScale) });
                    BalancerWeights.CopyMatching(frozen, net);
                    var report = StrengthHeadTrainer.Train(net, train, val, probe, opts, new Progress<string>(Console.Error.WriteLine), ct);
                    var outDir = pr.GetValue(output)!;
                    BalancerWeights.Save(net, Path.Combine(outDir, "balancer"), new Dictionary<string, string> { ["strength_head_from"] = Path.GetFullPath(source) });
                    File.WriteAllText(Path.Combine(outDir, "strength.json"), JsonSerializer.Serialize(new { source, caches = cacheDirs, opts.Steps, opts.IdentityWeight, report }, new JsonSerializerOptions { WriteIndented = true }));
                    Console.Error.WriteLine($"strength head in {sw.Elapsed.TotalMinutes:F1} min; validation RMS read-out error on distorted latents: none {report.DistortedNone:F4}, balancer {report.DistortedBalancer:F4}, with the head {report.DistortedHead:F4} (best per latent {report.DistortedBestPerImage:F4}); on clean latents: balancer {report.IdentityBalancer:F4}, with the head {report.IdentityHead:F4}; mean strength {report.MeanStrengthDistorted:F2} distorted, {report.MeanStrengthIdentity:F2} clean; weights in {Path.Combine(outDir, "balancer")}");
                }
                return Task.FromResult(0);
            }
            catch (Exception e) { CliErrors.Print(e); return Task.FromResult(1); }
        });
        return cmd;
    }

    /// <summary>The cache's colour read-out, fitted on decodes of its clean training latents the first time.</summary>
    static ColorProbe LoadProbe(ModelPack packDir, string cacheDir, LatentPairs train, TorchSharp.torch.Device dev, CancellationToken ct)
    {
        var probePath = Path.Combine(cacheDir, "color_probe.safetensors");
        if (File.Exists(probePath)) return ColorProbe.Load(probePath);
        using var store = new ModelStore();
        using var vae = packDir.LoadVae(store, dev, ct);
        using var sample = train.Clean.index_select(0, TorchSharp.torch.arange(0, Math.Min(train.Count, 1024), 4));
        var probe = ColorProbe.Fit(vae, sample);
        probe.Save(probePath);
        return probe;
    }

    static float[] ParseLevels(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(t => float.TryParse(t, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var q)
                ? q : throw new ArgumentException($"--global-quantiles: '{t}' is not a number"))   // the range is BalancerConfig.Validate's
            .ToArray();

    static string DefaultCache()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var baseDir = string.IsNullOrEmpty(xdg) ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache") : xdg;
        return Path.Combine(baseDir, "latentbalance", "latents");
    }
}
