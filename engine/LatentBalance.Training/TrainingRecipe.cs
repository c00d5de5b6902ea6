using LatentBalance.Engine.Balancer;

namespace LatentBalance.Training;

/// <summary>
/// How a balancer is made (beside <see cref="BalancerConfig"/>, what it is), with the one set of defaults:
/// <c>latentbalance train</c> binds its options onto this record (each option's default is the value here), and the
/// three stages of the training assembly read it: the dataset (<c>LatentDatasetBuilder</c>: photos → latent cache),
/// the fit (<c>BalancerTrainer</c>: the balancer) and the strength head (<c>StrengthHeadTrainer</c>);
/// <c>TrainingRun</c> runs the stages. In the training assembly: the CLI builds its <c>train</c> command (and so loads
/// this assembly) only when <c>train</c> is the command run; balancing and the daemon never load it.
/// </summary>
public sealed record TrainingRecipe
{
    // ---- the run ----
    /// <summary>dataset, fit, all (dataset then fit) or strength.</summary>
    public string Stage { get; init; } = "all";
    /// <summary>Latent cache folders: the dataset stage builds the first; fit and strength train on all, validate on the first.</summary>
    public string[] Caches { get; init; } = [DefaultCache()];
    /// <summary>Checkpoints (<see cref="CheckpointDir"/>), the trained balancer and the run's summary.</summary>
    public string OutDir { get; init; } = "artifacts/train";
    /// <summary>strength: the trained balancer folder to add the head to (null: the pack's); fit: start from it (a
    /// fine-tune; its config must be the one asked for) unless a checkpoint resumes.</summary>
    public string? Balancer { get; init; }

    // ---- dataset ----
    public string PhotosDir { get; init; } = "../shared/data/photos";
    /// <summary>Folder of .cube LUTs used as distortions (null or missing: none).</summary>
    public string? LutsDir { get; init; } = "../shared/data/luts/artistic";
    /// <summary>Crops and distortions; a new seed in a new cache folder gives more pairs.</summary>
    public int Seed { get; init; } = 2026;
    /// <summary>val, train or both.</summary>
    public string Splits { get; init; } = "both";
    /// <summary>Distorted variants made from each photo (one random crop per photo, encoded once; each variant its own distortion).</summary>
    public int VariantsPerPhoto { get; init; } = 4;
    /// <summary>Use at most this many photos per split (0: all).</summary>
    public int MaxPhotos { get; init; }
    /// <summary>Share of variants left undistorted in the cache.</summary>
    public double DatasetIdentityFraction { get; init; } = 0.1;
    public int TileSize { get; init; } = 224;
    public int EncodeBatch { get; init; } = 32;
    public int ShardSize { get; init; } = 256;
    /// <summary>Smallest share of each side kept by the random crop.</summary>
    public double MinCrop { get; init; } = 0.6;

    // ---- the balancer's shape (BalancerConfig) ----
    public int Width { get; init; } = 64;
    public int NumBlocks { get; init; } = 4;
    /// <summary>Pointwise blocks at full latent resolution after the trunk.</summary>
    public int HeadBlocks { get; init; } = 2;
    /// <summary>Quantile levels of each latent channel fed to the global branch beside mean and std (empty: mean and std only).</summary>
    public float[] GlobalQuantiles { get; init; } = [];
    public bool TrunkGlobal { get; init; }

    // ---- fit ----
    public int Epochs { get; init; } = 20;
    public int BatchSize { get; init; } = 32;
    /// <summary>Adam's learning rate at the start of the cosine schedule, which ends at <see cref="MinLearningRate"/>.</summary>
    public double LearningRate { get; init; } = 1e-3;
    public double MinLearningRate { get; init; } = 1e-5;
    public int FitSeed { get; init; } = 1;
    /// <summary>Stop after this many optimiser steps in total (0: no limit).</summary>
    public int MaxSteps { get; init; }
    /// <summary>Wall-time budget (0: none): after 20 steps the total is cut to what fits, and the learning-rate schedule follows the cut.</summary>
    public double MaxMinutes { get; init; }
    /// <summary>Share of each batch whose input is replaced by its clean latent (the target stays the clean latent):
    /// identity pairs at no encoding cost, so the balancer learns to leave a good photo alone.</summary>
    public double IdentityFraction { get; init; } = 0.15;
    /// <summary>Weight of the colour term (squared error of a linear colour read-out of the latent, <c>ColorProbe</c>); 0: latent loss only.</summary>
    public double ColorWeight { get; init; } = 30.0;
    public int CheckpointEverySteps { get; init; } = 500;
    /// <summary>Resume from the last checkpoint in <see cref="CheckpointDir"/> when there is one.</summary>
    public bool Resume { get; init; } = true;
    /// <summary>Return the weights of the epoch with the lowest validation latent MSE (also kept in
    /// <c>CheckpointDir/best</c>) instead of the last ones.</summary>
    public bool KeepBest { get; init; } = true;

    // ---- strength head ----
    public int StrengthHidden { get; init; } = 64;
    /// <summary>Optimiser steps (the step with the lowest held-out loss is kept).</summary>
    public int StrengthSteps { get; init; } = 2000;
    public int StrengthBatchSize { get; init; } = 512;
    public double StrengthLearningRate { get; init; } = 1e-3;
    public double StrengthWeightDecay { get; init; } = 1e-4;
    /// <summary>Weight of the identity samples (each pair's clean latent, which must be left alone) against the
    /// distorted ones: above 1 trades correction for leaving good photos alone.</summary>
    public double StrengthIdentityWeight { get; init; } = 1.0;
    public int StrengthSeed { get; init; } = 7;
    /// <summary>Also feed the head whole-photo colour statistics (of the colour read-out).</summary>
    public bool StrengthColorStats { get; init; }
    /// <summary>Factor on the head's strength (<see cref="BalancerConfig.StrengthScale"/>).</summary>
    public float StrengthScale { get; init; } = 1f;

    /// <summary>Checkpoints, the loss history and the loss plot of the fit.</summary>
    public string CheckpointDir => Path.Combine(OutDir, "checkpoints");

    /// <summary>The balancer this recipe trains, on latents of <paramref name="latentChannels"/> channels from the VAE named <paramref name="vae"/>.</summary>
    public BalancerConfig ConfigFor(int latentChannels, string vae) => new()
    {
        LatentChannels = latentChannels, Width = Width, NumBlocks = NumBlocks, HeadBlocks = HeadBlocks,
        GlobalQuantiles = GlobalQuantiles, TrunkGlobal = TrunkGlobal, Vae = vae, TileSize = TileSize,
        AttentionAfter = NumBlocks >= 2 ? [NumBlocks / 2 - 1, NumBlocks - 1] : [0],
    };

    /// <summary>Throws <see cref="ArgumentException"/> for a stage, split or cache list that makes no run.</summary>
    public void Validate()
    {
        if (Stage is not ("dataset" or "fit" or "all" or "strength")) throw new ArgumentException($"--stage: '{Stage}' is not dataset, fit, all or strength");
        if (Stage is "dataset" or "all" && Caches.Length > 1) throw new ArgumentException("--cache: the dataset stage builds one cache; name one folder");
        if (Stage is "dataset" or "all" && Splits is not ("both" or "val" or "train")) throw new ArgumentException($"--splits: '{Splits}' is not val, train or both");
        if (Caches.Length == 0) throw new ArgumentException("--cache: name a cache folder");
    }

    /// <summary>$XDG_CACHE_HOME/latentbalance/latents (else ~/.cache/...).</summary>
    public static string DefaultCache()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var baseDir = string.IsNullOrEmpty(xdg) ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache") : xdg;
        return Path.Combine(baseDir, "latentbalance", "latents");
    }
}
