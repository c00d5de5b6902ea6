using System.Diagnostics;
using System.Text.Json;
using LatentBalance.Engine.Balancer;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Training;

/// <summary>One point of the loss history.</summary>
/// <remarks>The beta-NLL loss is not a measure of progress on its own (its variance term rises as the
/// predicted variance shrinks to the error), so each epoch also records the mean squared error of
/// the predicted mean to the clean latent, on the validation pairs and on a fixed subset of the
/// training pairs; the best epoch is the one with the lowest validation MSE.</remarks>
public sealed record LossPoint(int Step, int Epoch, double TrainLoss, double? ValidationLoss, double? TrainMse = null, double? ValidationMse = null,
    double? TrainColorMse = null, double? ValidationColorMse = null);

/// <summary>Where the returned weights came from: the step and validation latent MSE of the best epoch.</summary>
public sealed record BestPoint(int Step, double ValidationMse);

public sealed record TrainProgress(int Step, int TotalSteps, int Epoch, double Loss, TimeSpan Elapsed, LossPoint? EpochEnd = null);

/// <summary>
/// Trains the balancer on cached latent pairs with Adam and a cosine learning-rate schedule.
/// Checkpoints (weights, config, step and loss history) are written atomically; a run started
/// again with the same folder resumes from the last checkpoint (the optimiser's moments restart).
/// </summary>
public sealed class BalancerTrainer
{
    public List<LossPoint> History { get; } = [];
    /// <summary>The epoch whose weights <see cref="Train"/> returned, when it kept the best one.</summary>
    public BestPoint? Best { get; private set; }

    /// <summary>Trains a balancer of <paramref name="config"/> by the recipe's fit settings. With a colour read-out
    /// (<paramref name="probe"/>) each epoch also records the colour error (a diagnostic: the best epoch is still
    /// chosen by the latent MSE, which followed the validation CIEDE2000 where the colour error did not; docs/MODEL.md),
    /// and the recipe's <see cref="TrainingRecipe.ColorWeight"/> adds the colour term to the loss.</summary>
    public BalancerNet Train(LatentPairs train, LatentPairs? validation, BalancerConfig config, TrainingRecipe options, ColorProbe? probe = null,
        IProgress<TrainProgress>? progress = null, CancellationToken cancel = default)
    {
        if (train.Count == 0) throw new ArgumentException("no training pairs");
        if (train.Channels != config.LatentChannels)
            throw new ArgumentException($"the latents have {train.Channels} channels but the balancer config says {config.LatentChannels}");
        torch.manual_seed(options.FitSeed);
        var net = new BalancerNet(config);
        int startStep = 0;
        if (options.Resume && BalancerCheckpoint.TryLoad(options.CheckpointDir, net, out var state))
        {
            startStep = state.Step;
            History.AddRange(state.History);
        }
        else if (options.Balancer != null)
        {
            using var init = BalancerNet.Load(options.Balancer);
            if (Pretrained.ToJson(init.Config) != Pretrained.ToJson(config))
                throw new ArgumentException($"{options.Balancer}: its balancer config differs from the one asked for (width, blocks, head blocks and options must match)");
            net.CopyMatchingFrom(init);
        }
        net.train();
        var opt = optim.Adam(net.parameters(), options.LearningRate);
        int stepsPerEpoch = Math.Max(1, train.Count / options.BatchSize);
        int totalSteps = options.Epochs * stepsPerEpoch;
        if (options.MaxSteps > 0) totalSteps = Math.Min(totalSteps, options.MaxSteps);
        var rng = new Random(options.FitSeed);
        var identityGen = new Generator((ulong)options.FitSeed + 17);
        Dictionary<string, Tensor>? bestWeights = null;
        double bestMse = double.PositiveInfinity; int bestStep = 0;
        var bestDir = Path.Combine(options.CheckpointDir, "best");
        if (options.ColorWeight > 0 && probe == null) throw new ArgumentException("a colour weight needs a colour probe");
        if (options.KeepBest && startStep > 0 && File.Exists(Path.Combine(bestDir, BalancerNet.WeightsFile))
            && History.Where(h => h.ValidationMse.HasValue).MinBy(h => h.ValidationMse) is { } prior)
        {
            // resumed: the best epoch so far is the one saved in best/ (checked against the net when loaded back)
            bestWeights = Pretrained.ReadWeights(Path.Combine(bestDir, BalancerNet.WeightsFile));
            bestMse = prior.ValidationMse!.Value; bestStep = prior.Step;
        }
        var sw = Stopwatch.StartNew();
        double running = 0; int runningCount = 0;
        int step = startStep;
        // replay the shuffles of finished epochs so a resumed run sees the same order
        int[] order = [];
        for (int e = 0; e <= startStep / stepsPerEpoch; e++) order = Shuffle(train.Count, rng);
        while (step < totalSteps && !cancel.IsCancellationRequested)
        {
            int epoch = step / stepsPerEpoch, inEpoch = step % stepsPerEpoch;
            if (inEpoch == 0 && step != startStep) order = Shuffle(train.Count, rng);
            double lr = options.MinLearningRate + 0.5 * (options.LearningRate - options.MinLearningRate) * (1 + Math.Cos(Math.PI * step / totalSteps));
            foreach (var g in opt.ParamGroups) g.LearningRate = lr;
            using (var scope = NewDisposeScope())
            {
                var idx = tensor(order.AsSpan(inEpoch * options.BatchSize, options.BatchSize).ToArray().Select(i => (long)i).ToArray());
                var (x, y, yLogVar) = train.Batch(idx);
                if (options.IdentityFraction > 0)
                {
                    var same = rand([x.shape[0], 1, 1, 1], generator: identityGen).lt(HeldScalars.Of(options.IdentityFraction)).to(x.device);
                    x = where(same, y, x);
                }
                opt.zero_grad();
                var (mean, logVar) = net.forward(x);
                var loss = BalancerLoss.Compute(mean, logVar, y, yLogVar);
                if (options.ColorWeight > 0) loss = loss.Plus(probe!.Error(mean, y).Times(options.ColorWeight));
                loss.backward();
                nn.utils.clip_grad_norm_(net.parameters(), 1.0);
                opt.step();
                running += loss.item<float>(); runningCount++;
            }
            step++;
            if (options.MaxMinutes > 0 && step == startStep + 20)
            {
                double perStep = sw.Elapsed.TotalSeconds / 20 * 1.08; // room for the validation passes
                int fits = startStep + (int)((options.MaxMinutes * 60 - sw.Elapsed.TotalSeconds) / perStep) + 20;
                if (fits < totalSteps) totalSteps = Math.Max(step + 1, fits);
            }
            bool epochEnd = step % stepsPerEpoch == 0 || step == totalSteps;
            if (!epochEnd && step % 50 == 0)
                progress?.Report(new TrainProgress(step, totalSteps, epoch, running / Math.Max(1, runningCount), sw.Elapsed));
            if (epochEnd)
            {
                var vm = validation is { Count: > 0 } ? Measure(net, validation, options.BatchSize, probe: probe) : default((double, double, double?)?);
                var tm = Measure(net, train, options.BatchSize, TrainMseSubset, probe);
                var point = new LossPoint(step, epoch, running / Math.Max(1, runningCount), vm?.Item1, tm.Mse, vm?.Item2, tm.ColorMse, vm?.Item3);
                History.Add(point);
                progress?.Report(new TrainProgress(step, totalSteps, epoch, point.TrainLoss, sw.Elapsed, point));
                if (options.KeepBest && point.ValidationMse is double v && v < bestMse)
                {
                    bestMse = v; bestStep = step;
                    if (bestWeights != null) foreach (var t in bestWeights.Values) t.Dispose();
                    bestWeights = net.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
                    net.Save(bestDir, new Dictionary<string, string> { ["step"] = step.ToString(), ["validation_mse"] = v.ToString("R", System.Globalization.CultureInfo.InvariantCulture) });
                }
                running = 0; runningCount = 0;
            }
            if (epochEnd || step % options.CheckpointEverySteps == 0)
                BalancerCheckpoint.Save(options.CheckpointDir, net, new CheckpointState(step, History.ToList()));
        }
        if (bestWeights != null)
        {
            Pretrained.LoadInto(net, bestWeights, "best epoch");
            foreach (var t in bestWeights.Values) t.Dispose();
            Best = new BestPoint(bestStep, bestMse);
        }
        net.eval();
        return net;
    }

    /// <summary>Training pairs (the first ones) measured at each epoch end for the train MSE.</summary>
    public const int TrainMseSubset = 512;

    /// <summary>Mean loss over a set of pairs, without gradients.</summary>
    public static double Evaluate(BalancerNet net, LatentPairs data, int batchSize) => Measure(net, data, batchSize).Loss;

    /// <summary>Mean loss, mean squared error of the predicted mean to the clean latent and (with a
    /// probe) of their read-out colours, over the first <paramref name="limit"/> pairs (0: all), without gradients.</summary>
    public static (double Loss, double Mse, double? ColorMse) Measure(BalancerNet net, LatentPairs data, int batchSize, int limit = 0, ColorProbe? probe = null)
    {
        bool wasTraining = net.training;
        net.eval();
        double sum = 0, sq = 0, col = 0; long n = 0;
        int count = limit > 0 ? Math.Min(limit, data.Count) : data.Count;
        using (no_grad())
            for (int i = 0; i < count; i += batchSize)
            {
                using var scope = NewDisposeScope();
                int b = Math.Min(batchSize, count - i);
                var (x, y, yLogVar) = data.Batch(HeldArithmetic.Arange(i, i + b, int64));
                var (mean, logVar) = net.forward(x);
                sum += BalancerLoss.Compute(mean, logVar, y, yLogVar).item<float>() * b;
                sq += (mean - y).Squared().mean().item<float>() * b;
                if (probe != null) col += probe.Error(mean, y).item<float>() * b;
                n += b;
            }
        if (wasTraining) net.train();
        return (sum / Math.Max(1, n), sq / Math.Max(1, n), probe == null ? null : col / Math.Max(1, n));
    }

    /// <summary>The colour MSE of doing nothing, for <see cref="Measure"/>'s colour error.</summary>
    public static double IdentityColorMse(LatentPairs data, ColorProbe probe)
    {
        using var scope = NewDisposeScope();
        return probe.Error(data.Distorted, data.Clean).item<float>();
    }

    /// <summary>The MSE of doing nothing (distorted latent against clean latent): the reference for <see cref="Measure"/>.</summary>
    public static double IdentityMse(LatentPairs data)
    {
        using var scope = NewDisposeScope();
        return (data.Distorted - data.Clean).Squared().mean().item<float>();
    }

    static int[] Shuffle(int n, Random rng)
    {
        var a = Enumerable.Range(0, n).ToArray();
        rng.Shuffle(a);
        return a;
    }
}

/// <summary>
/// (distorted, clean) latent pairs held in memory: [N, C, h, w] float32 tensors, plus the clean
/// log-variance for probabilistic VAEs.
/// </summary>
public sealed class LatentPairs : IDisposable
{
    public LatentPairs(Tensor distorted, Tensor clean, Tensor? cleanLogVar = null)
    {
        if (!distorted.shape.SequenceEqual(clean.shape)) throw new ArgumentException("distorted and clean latents differ in shape");
        Distorted = distorted; Clean = clean; CleanLogVar = cleanLogVar;
    }

    public Tensor Distorted { get; }
    public Tensor Clean { get; }
    public Tensor? CleanLogVar { get; }
    public int Count => (int)Distorted.shape[0];
    public int Channels => (int)Distorted.shape[1];

    public (Tensor X, Tensor Y, Tensor? YLogVar) Batch(Tensor index)
        => (Distorted.index_select(0, index), Clean.index_select(0, index), CleanLogVar?.index_select(0, index));

    public void Dispose()
    {
        Distorted.Dispose(); Clean.Dispose(); CleanLogVar?.Dispose();
    }
}

public sealed record CheckpointState(int Step, List<LossPoint> History);
