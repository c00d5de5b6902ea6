using System.Diagnostics;
using LatentBalance.Engine.Balancer;
using LatentBalance.Engine.Runtime;
using LatentBalance.Engine.Vae;
using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Pipeline;

/// <summary>
/// Steps 2 to 5 of the method on one tile: encode (the latent mean), balance the latent, decode
/// both latents, and fit the colour map from the distorted decode to the balanced decode over the
/// photo's pixels (the padding is masked out).
/// </summary>
public sealed class CorrectionEstimator(IVae vae, BalancerNet balancer)
{
    /// <param name="tile">[1, 3, S, S] in [0, 1] on the models' device.</param>
    /// <param name="mask">[S, S] bool.</param>
    /// <param name="strength">Receives the strength the balancer applied (its strength head's, else 1).</param>
    public ColorMapMlp Estimate(Tensor tile, Tensor mask, ColorMapFitOptions fit, Action<string, double>? timing = null, Action<double>? strength = null)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var t0 = Stopwatch.GetTimestamp();
        var z = vae.Encode(tile);
        timing?.Invoke("encode", Ms(ref t0));
        var (zBalanced, s) = balancer.BalanceWithStrength(z);
        strength?.Invoke(s[0].item<float>());
        timing?.Invoke("balance", Ms(ref t0));
        return FitBetween(z, zBalanced, mask, fit, timing);
    }

    /// <summary>Steps 4-5 alone: decodes both latents [1, C, h, w] and fits the colour map from the
    /// first's decode to the second's (the evaluator also uses it with the clean photo's latent as
    /// the target, to score a perfect balancer).</summary>
    public ColorMapMlp FitBetween(Tensor z, Tensor zTarget, Tensor mask, ColorMapFitOptions fit, Action<string, double>? timing = null)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var t0 = Stopwatch.GetTimestamp();
        var decoded = vae.Decode(cat([z, zTarget], 0)).ClampTo(0L, 1L);
        timing?.Invoke("decode", Ms(ref t0));
        var mlp = ColorMapFitter.Fit(decoded[0], decoded[1], mask, fit);
        timing?.Invoke("fit", Ms(ref t0));
        return mlp;
    }

    static double Ms(ref long t0)
    {
        var now = Stopwatch.GetTimestamp();
        var ms = Stopwatch.GetElapsedTime(t0, now).TotalMilliseconds;
        t0 = now;
        return ms;
    }
}
