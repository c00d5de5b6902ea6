using System.CommandLine;
using System.Globalization;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Engine.Runtime;
using LatentBalance.Training;

namespace LatentBalance.Cli.Commands;

/// <summary>
/// <c>latentbalance train</c>: build the latent cache (encode once) and train the balancer on it
/// (many epochs on cached latents), writing checkpoints, a loss plot and the final weights.
/// Each option sets one field of a <see cref="TrainingRecipe"/> and shows that field's default.
/// </summary>
static class TrainCommand
{
    public const string Summary = "Build the latent dataset and train the balancer.";

    static readonly TrainingRecipe Defaults = new();

    public static Command Create()
    {
        var cmd = new Command("train", Summary);
        var binds = new List<Func<ParseResult, TrainingRecipe, TrainingRecipe>>();
        void Add<T>(string name, string? description, Func<TrainingRecipe, T> get, Func<TrainingRecipe, T, TrainingRecipe> set)
        {
            var option = new Option<T>(name) { Description = description };
            var d = get(Defaults);
            if (!EqualityComparer<T>.Default.Equals(d, default)) option.DefaultValueFactory = _ => d;
            cmd.Options.Add(option);
            binds.Add((pr, r) => set(r, pr.GetValue(option)!));
        }
        Add("--photos", "folder of clean photos", r => r.PhotosDir, (r, v) => r with { PhotosDir = v });
        Add("--luts", "folder of .cube LUTs used as distortions", r => r.LutsDir, (r, v) => r with { LutsDir = v });
        Add("--cache", "latent cache folder (never in git); fit: repeat it to train on several caches (validation comes from the first)", r => r.Caches, (r, v) => r with { Caches = v });
        Add("--seed", "dataset seed (crops and distortions); a new seed in a new cache folder gives more pairs", r => r.Seed, (r, v) => r with { Seed = v });
        Add("--splits", "dataset: which splits to build (val, train or both)", r => r.Splits, (r, v) => r with { Splits = v });
        Add("--identity", "fit: share of each batch trained as identity pairs (clean latent in, clean latent out)", r => r.IdentityFraction, (r, v) => r with { IdentityFraction = v });
        Add("--out", "folder for checkpoints and the trained balancer", r => r.OutDir, (r, v) => r with { OutDir = v });
        Add("--variants", "distorted variants per photo", r => r.VariantsPerPhoto, (r, v) => r with { VariantsPerPhoto = v });
        Add("--max-photos", "use at most this many photos per split (0: all)", r => r.MaxPhotos, (r, v) => r with { MaxPhotos = v });
        Add("--epochs", null, r => r.Epochs, (r, v) => r with { Epochs = v });
        Add("--batch", null, r => r.BatchSize, (r, v) => r with { BatchSize = v });
        Add("--lr", null, r => r.LearningRate, (r, v) => r with { LearningRate = v });
        Add("--max-steps", "stop after this many steps (0: no limit)", r => r.MaxSteps, (r, v) => r with { MaxSteps = v });
        Add("--max-minutes", "wall-time budget for the fit (0: none)", r => r.MaxMinutes, (r, v) => r with { MaxMinutes = v });
        Add("--width", null, r => r.Width, (r, v) => r with { Width = v });
        Add("--blocks", null, r => r.NumBlocks, (r, v) => r with { NumBlocks = v });
        Add("--head-blocks", "pointwise blocks at full latent resolution after the trunk", r => r.HeadBlocks, (r, v) => r with { HeadBlocks = v });
        Add("--global-quantiles", "quantile levels of each latent channel fed to the global branch beside mean and std, comma-separated (empty: mean and std only)",
            r => string.Join(",", r.GlobalQuantiles.Select(q => q.ToString(CultureInfo.InvariantCulture))), (r, v) => r with { GlobalQuantiles = ParseLevels(v ?? "") });
        Add("--trunk-global", "also modulate the head blocks from the trunk's output averaged over the frame", r => r.TrunkGlobal, (r, v) => r with { TrunkGlobal = v });
        Add("--color-weight", "fit: weight of the colour term (a linear colour read-out of the latent, fitted on decodes and kept in the cache); 0: latent loss only", r => r.ColorWeight, (r, v) => r with { ColorWeight = v });
        Add("--stage", "dataset, fit, all (dataset then fit) or strength (fit the calibrated-strength head of a trained balancer)", r => r.Stage, (r, v) => r with { Stage = v });
        Add("--balancer", "strength: the trained balancer folder to add the head to (default: the pack's; a head it already has is the starting point); fit: start from it (a fine-tune) unless a checkpoint resumes", r => r.Balancer, (r, v) => r with { Balancer = v });
        Add("--strength-hidden", "strength: hidden width of the head", r => r.StrengthHidden, (r, v) => r with { StrengthHidden = v });
        Add("--strength-steps", "strength: optimiser steps (the step with the lowest held-out loss is kept)", r => r.StrengthSteps, (r, v) => r with { StrengthSteps = v });
        Add("--strength-identity-weight", "strength: weight of the clean (leave-alone) samples against the distorted ones", r => r.StrengthIdentityWeight, (r, v) => r with { StrengthIdentityWeight = v });
        Add("--strength-color-stats", "strength: also feed the head whole-photo colour statistics (of the colour read-out)", r => r.StrengthColorStats, (r, v) => r with { StrengthColorStats = v });
        Add("--strength-scale", "strength: factor on the head's strength (strength_scale; pick it with eval --split train --curve-strengths)", r => r.StrengthScale, (r, v) => r with { StrengthScale = v });
        cmd.Options.Add(BalanceCommand.Pack);
        cmd.Options.Add(BalanceCommand.Device);
        cmd.SetAction((pr, ct) =>
        {
            try
            {
                var device = Devices.Resolve(pr.GetValue(BalanceCommand.Device));
                var pack = ModelPack.Open(pr.GetValue(BalanceCommand.Pack) ?? ModelPack.DefaultDirectory());
                var recipe = binds.Aggregate(Defaults, (r, bind) => bind(pr, r));
                TrainingRun.Run(recipe, pack, device, Console.Error.WriteLine, ct);
                return Task.FromResult(0);
            }
            catch (Exception e) { CliErrors.Print(e); return Task.FromResult(1); }
        });
        return cmd;
    }

    static float[] ParseLevels(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(t => float.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var q)
                ? q : throw new ArgumentException($"--global-quantiles: '{t}' is not a number"))   // the range is BalancerConfig.Validate's
            .ToArray();
}
