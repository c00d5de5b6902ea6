using System.Diagnostics;
using LatentBalance.Engine.Balancer;
using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Training;

public sealed record StrengthTrainOptions
{
    public int Steps { get; init; } = 3000;
    public int BatchSize { get; init; } = 512;
    public double LearningRate { get; init; } = 1e-3;
    public double WeightDecay { get; init; } = 1e-4;
    /// <summary>Weight of the identity samples (each pair's clean latent, which must be left alone)
    /// against the distorted ones in the loss: above 1 trades correction for leaving good photos alone.</summary>
    public double IdentityWeight { get; init; } = 1.0;
    public int Seed { get; init; } = 7;
}

/// <summary>What the strength head reaches, in the colour read-out's space (RMS colour error per latent, averaged).</summary>
public sealed record StrengthReport(double DistortedNone, double DistortedBalancer, double DistortedHead, double DistortedBestPerImage,
    double IdentityBalancer, double IdentityHead, double MeanStrengthDistorted, double MeanStrengthIdentity);

/// <summary>
/// Fits the balancer's calibrated-strength head (<see cref="BalancerNet.StrengthHead"/>) with the
/// rest of the balancer frozen. Per training latent z (each pair's distorted latent, and its clean
/// latent as an identity sample), with the balancer's mean m and the clean latent c, the colour
/// read-out P (<see cref="ColorProbe"/>, linear) gives the correction's colours d = P(m) - P(z) and
/// the needed ones t = P(c) - P(z); at strength s the read-out error is
/// E(s) = mean |s d - t|^2 = A s^2 - 2 B s + C, so three numbers per latent hold the whole loss and
/// the best s is B / A in closed form. The head minimises the mean over latents of sqrt(E(s)),
/// an RMS colour error per photo, as CIEDE2000 is averaged per photo.
/// </summary>
public static class StrengthHeadTrainer
{
    sealed record Samples(Tensor Features, Tensor Abc, Tensor IsIdentity) : IDisposable
    {
        public void Dispose() { Features.Dispose(); Abc.Dispose(); IsIdentity.Dispose(); }
    }

    /// <summary>Trains <paramref name="net"/>'s strength head in place and reports validation scores.</summary>
    public static StrengthReport Train(BalancerNet net, LatentPairs train, LatentPairs validation, ColorProbe probe, StrengthTrainOptions options,
        IProgress<string>? log = null, CancellationToken cancel = default)
    {
        var head = net.Strength ?? throw new ArgumentException("the balancer has no strength head (strength_head is 0 in its config)");
        var sw = Stopwatch.StartNew();
        if (net.Config.StrengthColorStats) head.SetColorReadout(probe.Weight, probe.Bias);
        using var tr = Collect(net, train, probe, cancel);
        using var va = Collect(net, validation, probe, cancel);
        log?.Report($"strength head: {tr.Features.shape[0]} training and {va.Features.shape[0]} validation samples in {sw.Elapsed.TotalSeconds:F0} s");

        torch.manual_seed(options.Seed);
        head.SetStandardisation(tr.Features);
        head.train();
        var opt = optim.AdamW(head.parameters(), options.LearningRate, weight_decay: options.WeightDecay);
        var gen = new Generator((ulong)options.Seed);
        long n = tr.Features.shape[0];
        for (int step = 0; step < options.Steps; step++)
        {
            cancel.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var idx = randint(0, n, [Math.Min(options.BatchSize, n)], generator: gen);
            var s = head.forward(tr.Features.index_select(0, idx));
            var loss = Loss(s, tr.Abc.index_select(0, idx), tr.IsIdentity.index_select(0, idx), options.IdentityWeight);
            opt.zero_grad();
            loss.backward();
            opt.step();
            if ((step + 1) % 500 == 0)
            {
                var r = Report(head, va);
                log?.Report($"strength head step {step + 1}/{options.Steps}: loss {loss.item<float>():F5}; validation RMS colour error {r.DistortedHead:F5} distorted, {r.IdentityHead:F5} identity; mean strength {r.MeanStrengthDistorted:F2} / {r.MeanStrengthIdentity:F2}");
            }
        }
        head.eval();
        return Report(head, va);
    }

    static Tensor Loss(Tensor s, Tensor abc, Tensor isIdentity, double identityWeight)
    {
        var rms = Rms(s, abc);
        var w = 1 + isIdentity * (identityWeight - 1);
        return (rms * w).sum() / w.sum();
    }

    /// <summary>sqrt(A s^2 - 2 B s + C) per sample.</summary>
    static Tensor Rms(Tensor s, Tensor abc)
        => (abc[.., 0] * s * s - 2 * abc[.., 1] * s + abc[.., 2]).clamp_min(0) .add(1e-10).sqrt();

    static StrengthReport Report(BalancerNet.StrengthHead head, Samples v)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var s = head.forward(v.Features);
        var id = v.IsIdentity.to(ScalarType.Bool);
        var dist = id.logical_not();
        double M(Tensor x, Tensor m) => x.masked_select(m).mean().item<float>();
        var abc = v.Abc;
        var best = (abc[.., 1] / abc[.., 0].clamp_min(1e-12)).clamp(0, 4);
        return new StrengthReport(
            M(Rms(zeros_like(s), abc), dist), M(Rms(ones_like(s), abc), dist), M(Rms(s, abc), dist), M(Rms(best, abc), dist),
            M(Rms(ones_like(s), abc), id), M(Rms(s, abc), id), M(s, dist), M(s, id));
    }

    /// <summary>Features and the (A, B, C) of every distorted latent and every clean latent (as an
    /// identity sample: nothing to correct, C = 0).</summary>
    static Samples Collect(BalancerNet net, LatentPairs pairs, ColorProbe probe, CancellationToken cancel, int batch = 64)
    {
        var feats = new List<Tensor>(); var abcs = new List<Tensor>(); var ids = new List<Tensor>();
        using var _ = no_grad();
        bool wasTraining = net.training;
        net.eval();
        for (int i = 0; i < pairs.Count; i += batch)
        {
            cancel.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var index = arange(i, Math.Min(pairs.Count, i + batch));
            var (zd, zc, _) = pairs.Batch(index);
            foreach (var z in new[] { zd, zc })
            {
                var (mean, logVar) = net.forward(z);
                var pz = probe.Apply(z);
                var d = probe.Apply(mean) - pz;
                var t = probe.Apply(zc) - pz;
                var a = d.square().mean([1, 2, 3]);
                var b = (d * t).mean([1, 2, 3]);
                var c = t.square().mean([1, 2, 3]);
                feats.Add(net.StrengthFeatures(z, mean).MoveToOuterDisposeScope());
                abcs.Add(stack([a, b, c], 1).MoveToOuterDisposeScope());
                // identity samples: the clean latents, and the cache's own undistorted pairs
                ids.Add(c.le(1e-12).to(float32).MoveToOuterDisposeScope());
            }
        }
        if (wasTraining) net.train();
        var result = new Samples(cat(feats, 0), cat(abcs, 0), cat(ids, 0));
        foreach (var t in feats.Concat(abcs).Concat(ids)) t.Dispose();
        return result;
    }
}
