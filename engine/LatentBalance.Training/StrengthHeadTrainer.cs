using System.Diagnostics;
using LatentBalance.Engine.Balancer;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Training;

/// <summary>What the strength head reaches, in the colour read-out's space (RMS colour error per latent, averaged).</summary>
public sealed record StrengthReport(double DistortedNone, double DistortedBalancer, double DistortedHead, double DistortedBestPerImage,
    double IdentityBalancer, double IdentityHead, double MeanStrengthDistorted, double MeanStrengthIdentity, int BestStep = 0);

/// <summary>
/// Fits the balancer's calibrated-strength head (<see cref="BalancerNet.StrengthHead"/>) with the
/// rest of the balancer frozen. Per training latent z (each pair's distorted latent, and its clean
/// latent as an identity sample), with the balancer's mean m and the clean latent c, the colour
/// read-out P (<see cref="ColorProbe"/>, linear) gives the correction's colour change P(m) - P(z)
/// and the needed one P(c) - P(z) at each position. Like the method's per-photo colour map, only
/// what a global function of colour can do counts: d and t are their least-squares fits as a
/// quadratic function of P(z)'s colours (without this the per-position noise of the correction,
/// which the colour-map fit averages away, made the head hold back corrections that the pixels
/// needed). At strength s the error is E(s) = mean |s d - t|^2 = A s^2 - 2 B s + C, so three
/// numbers per latent hold the whole loss and the best s is B / A in closed form. The head minimises the mean over latents of sqrt(E(s)),
/// an RMS colour error per photo, as CIEDE2000 is averaged per photo.
/// </summary>
public static class StrengthHeadTrainer
{
    sealed record Samples(Tensor Features, Tensor Abc, Tensor IsIdentity) : IDisposable
    {
        public void Dispose() { Features.Dispose(); Abc.Dispose(); IsIdentity.Dispose(); }
        public Samples Slice(long from, long to) => new(Features[TensorIndex.Slice(from, to)].clone(), Abc[TensorIndex.Slice(from, to)].clone(), IsIdentity[TensorIndex.Slice(from, to)].clone());
    }

    /// <summary>Trains <paramref name="net"/>'s strength head in place and reports validation scores.</summary>
    public static StrengthReport Train(BalancerNet net, LatentPairs train, LatentPairs validation, ColorProbe probe, TrainingRecipe options,
        IProgress<string>? log = null, CancellationToken cancel = default)
    {
        var head = net.Strength ?? throw new ArgumentException("the balancer has no strength head (strength_head is 0 in its config)");
        var sw = Stopwatch.StartNew();
        if (net.Config.StrengthColorStats) head.SetColorReadout(probe.Weight, probe.Bias);
        using var all = Collect(net, train, probe, cancel);
        using var va = Collect(net, validation, probe, cancel);
        // the last tenth of the training samples (other photos: the cache is ordered by photo) picks
        // the step; the validation split only reports
        long total = all.Features.shape[0], cut = total - Math.Max(1, total / 10);
        using var tr = all.Slice(0, cut);
        using var hold = all.Slice(cut, total);
        log?.Report($"strength head: {cut} training, {total - cut} held-out and {va.Features.shape[0]} validation samples in {sw.Elapsed.TotalSeconds:F0} s");

        torch.manual_seed(options.StrengthSeed);
        head.SetStandardisation(tr.Features);
        head.train();
        var opt = optim.AdamW(head.parameters(), options.StrengthLearningRate, weight_decay: options.StrengthWeightDecay);
        var gen = new Generator((ulong)options.StrengthSeed);
        long n = tr.Features.shape[0];
        // keep the weights of the lowest held-out loss (checked every 100 steps): a head this small
        // on a few thousand photos starts to learn the training photos within a few hundred steps
        double bestLoss = double.PositiveInfinity; int bestStep = 0;
        Dictionary<string, Tensor>? best = null;
        for (int step = 0; step < options.StrengthSteps; step++)
        {
            cancel.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var idx = randint(0, n, [Math.Min(options.StrengthBatchSize, n)], generator: gen);
            var s = head.forward(tr.Features.index_select(0, idx));
            var loss = Loss(s, tr.Abc.index_select(0, idx), tr.IsIdentity.index_select(0, idx), options.StrengthIdentityWeight);
            opt.zero_grad();
            loss.backward();
            opt.step();
            if ((step + 1) % 100 == 0)
            {
                double v = HeldOutLoss(head, hold, options.StrengthIdentityWeight);
                if (v < bestLoss)
                {
                    bestLoss = v; bestStep = step + 1;
                    if (best != null) foreach (var t in best.Values) t.Dispose();
                    best = head.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().DetachFromDisposeScope());
                }
            }
            if ((step + 1) % 500 == 0)
            {
                var r = Report(head, va);
                log?.Report($"strength head step {step + 1}/{options.StrengthSteps}: loss {loss.item<float>():F5}; validation RMS colour error {r.DistortedHead:F5} distorted, {r.IdentityHead:F5} identity; mean strength {r.MeanStrengthDistorted:F2} / {r.MeanStrengthIdentity:F2}");
            }
        }
        if (best != null)
        {
            Pretrained.LoadInto(head, best, "the best strength-head step");   // strict copy
            foreach (var t in best.Values) t.Dispose();
            log?.Report($"strength head: best held-out loss {bestLoss:F5} at step {bestStep}");
        }
        head.eval();
        return Report(head, va) with { BestStep = bestStep };
    }

    static double HeldOutLoss(BalancerNet.StrengthHead head, Samples v, double identityWeight)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        bool was = head.training;
        head.eval();
        var loss = Loss(head.forward(v.Features), v.Abc, v.IsIdentity, identityWeight).item<float>();
        if (was) head.train();
        return loss;
    }

    static Tensor Loss(Tensor s, Tensor abc, Tensor isIdentity, double identityWeight)
    {
        var rms = Rms(s, abc);
        var w = isIdentity.Times(identityWeight - 1).Plus(1);
        return (rms * w).sum() / w.sum();
    }

    /// <summary>sqrt(A s^2 - 2 B s + C) per sample.</summary>
    static Tensor Rms(Tensor s, Tensor abc)
    {
        var meanSquare = (abc[.., 0] * s * s - abc[.., 1].Times(2) * s).Plus(abc[.., 2]);
        return meanSquare.AtLeast(0).Plus(1e-10).sqrt();
    }

    static StrengthReport Report(BalancerNet.StrengthHead head, Samples v)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var s = head.forward(v.Features);
        var id = v.IsIdentity.to(ScalarType.Bool);
        var dist = id.logical_not();
        double M(Tensor x, Tensor m) => x.masked_select(m).mean().item<float>();
        var abc = v.Abc;
        var best = (abc[.., 1] / abc[.., 0].AtLeast(1e-12)).ClampTo(0, 4);
        return new StrengthReport(
            M(Rms(zeros_like(s), abc), dist), M(Rms(ones_like(s), abc), dist), M(Rms(s, abc), dist), M(Rms(best, abc), dist),
            M(Rms(ones_like(s), abc), id), M(Rms(s, abc), id), M(s, dist), M(s, id));
    }

    /// <summary>The least-squares fit of <paramref name="delta"/> [N, 3, h, w] as a quadratic function
    /// of the colours <paramref name="colours"/> [N, 3, h, w] at the same positions, [N, h*w, 3].</summary>
    static Tensor GlobalPart(Tensor colours, Tensor delta)
    {
        using var scope = NewDisposeScope();
        var c = colours.flatten(2).transpose(1, 2);                                   // [N, P, 3]
        var r = c[.., .., 0..1]; var g = c[.., .., 1..2]; var b = c[.., .., 2..3];
        var x = cat([ones_like(r), r, g, b, r * r, g * g, b * b, r * g, r * b, g * b], 2); // [N, P, 10]
        var y = delta.flatten(2).transpose(1, 2);                                    // [N, P, 3]
        var xt = x.transpose(1, 2);
        var gram = xt.matmul(x).Plus(eye(10, dtype: x.dtype, device: x.device).Times(1e-4 * x.shape[1]));
        var w = linalg.solve(gram, xt.matmul(y));
        return x.matmul(w).MoveToOuterDisposeScope();
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
            var index = HeldArithmetic.Arange(i, Math.Min(pairs.Count, i + batch));
            var (zd, zc, _) = pairs.Batch(index);
            foreach (var z in new[] { zd, zc })
            {
                var (mean, logVar) = net.forward(z);
                var pz = probe.Apply(z);
                // what a global colour map can make of each colour difference: its least-squares fit
                // as a quadratic function of the input's colours (the per-photo colour map averages
                // away whatever differs between positions of the same colour, so that part is no error)
                var d = GlobalPart(pz, probe.Apply(mean) - pz);
                var t = GlobalPart(pz, probe.Apply(zc) - pz);
                var a = d.Squared().mean([1, 2]);
                var b = (d * t).mean([1, 2]);
                var c = t.Squared().mean([1, 2]);
                feats.Add(net.StrengthFeatures(z, mean).MoveToOuterDisposeScope());
                abcs.Add(stack([a, b, c], 1).MoveToOuterDisposeScope());
                // identity samples: the clean latents, and the cache's own undistorted pairs
                ids.Add(c.le(HeldScalars.Of(1e-12)).to(float32).MoveToOuterDisposeScope());
            }
        }
        if (wasTraining) net.train();
        var result = new Samples(cat(feats, 0), cat(abcs, 0), cat(ids, 0));
        foreach (var t in feats.Concat(abcs).Concat(ids)) t.Dispose();
        return result;
    }
}
