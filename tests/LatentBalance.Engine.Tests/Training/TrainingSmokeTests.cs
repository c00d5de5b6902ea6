using LatentBalance.Engine.Balancer;
using LatentBalance.Training;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Tests.Training;

/// <summary>
/// CI does not retrain the shipped balancer; instead the whole training path runs on a few real
/// photos: dataset cache (TAEF2 latents), a few optimiser steps (the loss falls), checkpoint and
/// resume, the loss plot.
/// </summary>
public class TrainingSmokeTests(ITestOutputHelper output)
{
    [Fact]
    public void DatasetIsCachedResumableAndTrainingLowersTheLoss()
    {
        var cache = TestPaths.TempDir("latent-cache");
        using var vae = TestPack.Taef2();
        var run = TestPaths.TempDir("train-run");
        var options = new TrainingRecipe
        {
            PhotosDir = Path.Combine(TestPaths.Photos, "mcmaster18"), LutsDir = TestPaths.ArtisticLuts, Caches = [cache],
            VariantsPerPhoto = 2, MaxPhotos = 6, ShardSize = 4, EncodeBatch = 4,
            OutDir = run, Epochs = 8, BatchSize = 4, LearningRate = 2e-3, Resume = false, IdentityFraction = 0, ColorWeight = 0,
        };
        var builder = new LatentDatasetBuilder(vae, options);
        builder.Build(LatentDatasetBuilder.Train);
        var shards = Directory.GetFiles(Path.Combine(cache, "train"), "shard-*");
        Assert.Equal(3, shards.Length); // 6 photos x 2 variants in shards of 4
        var stamp = shards.ToDictionary(s => s, File.GetLastWriteTimeUtc);
        File.Delete(shards[1]);
        builder.Build(LatentDatasetBuilder.Train);   // resumes: only the missing shard is made again
        Assert.Equal(stamp[shards[0]], File.GetLastWriteTimeUtc(shards[0]));
        Assert.True(File.Exists(shards[1]));

        using var pairs = LatentDatasetBuilder.Load(cache, LatentDatasetBuilder.Train);
        Assert.Equal(12, pairs.Count);
        Assert.Equal(32, pairs.Channels);
        Assert.True((pairs.Distorted - pairs.Clean).abs().mean().item<float>() > 0.01f, "distortions change the latents");
        Assert.Throws<InvalidOperationException>(() => new LatentDatasetBuilder(vae, options with { VariantsPerPhoto = 3 }).Build(LatentDatasetBuilder.Train));

        var config = new BalancerConfig { Width = 32, NumBlocks = 2, AttentionAfter = [1], AttentionHeads = 2, GlobalWidth = 32 };
        var ckpt = options.CheckpointDir;
        var trainer = new BalancerTrainer();
        manual_seed(5);
        double before = BalancerTrainer.Evaluate(new BalancerNet(config), pairs, 4);
        using var net = trainer.Train(pairs, pairs, config, options);
        double after = BalancerTrainer.Evaluate(net, pairs, 4);
        output.WriteLine($"loss {before:F4} -> {after:F4} over {trainer.History.Last().Step} steps");
        Assert.True(after < before - 0.05, $"loss {before} -> {after}");
        Assert.True(File.Exists(Path.Combine(ckpt, "loss.png")));
        Assert.True(File.Exists(Path.Combine(ckpt, "last", BalancerNet.WeightsFile)));
        // the latent MSE (the progress measure) is recorded per epoch and the best epoch's weights are returned
        double identityMse = BalancerTrainer.IdentityMse(pairs);
        var best = Assert.IsType<BestPoint>(trainer.Best);
        output.WriteLine($"latent MSE: doing nothing {identityMse:F4}, best epoch (step {best.Step}) {best.ValidationMse:F4}");
        Assert.All(trainer.History, h => { Assert.NotNull(h.TrainMse); Assert.NotNull(h.ValidationMse); });
        Assert.True(best.ValidationMse < identityMse * 0.97, $"latent MSE {identityMse} -> {best.ValidationMse}");
        Assert.Equal(trainer.History.Min(h => h.ValidationMse!.Value), best.ValidationMse);
        Assert.Equal(best.ValidationMse, BalancerTrainer.Measure(net, pairs, 4).Mse, 4);
        Assert.True(File.Exists(Path.Combine(ckpt, "best", BalancerNet.WeightsFile)));

        // resume: a second run with more epochs continues from the checkpoint's step
        var resumed = new BalancerTrainer();
        using var net2 = resumed.Train(pairs, null, config, options with { Epochs = 9, Resume = true, IdentityFraction = 0.25 });
        Assert.Equal(trainer.History.Count + 1, resumed.History.Count);
        Assert.Equal(27, resumed.History.Last().Step);
    }

    [Fact]
    public void SplitIsStableAndHoldsOutAboutTenPercentOfPhotosAndAThirdOfLuts()
    {
        var (train, val) = DataSplit.Photos(TestPaths.Photos);
        double share = (double)val.Count / (train.Count + val.Count);
        output.WriteLine($"photos: {train.Count} train, {val.Count} validation ({share:P1})");
        Assert.InRange(share, 0.07, 0.13);
        Assert.Empty(train.Intersect(val));
        var (lt, lv) = DataSplit.Luts(TestPaths.ArtisticLuts);
        output.WriteLine($"LUTs: {lt.Count} train, {lv.Count} validation");
        Assert.InRange((double)lv.Count / (lt.Count + lv.Count), 0.2, 0.45);
        Assert.Equal(val, DataSplit.Photos(TestPaths.Photos).Validation);
    }
}
