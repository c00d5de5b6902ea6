using TorchSharp.Modules;
using static TorchSharp.torch;

using LatentBalance.Engine.Runtime;

namespace LatentBalance.Benchmarks;

/// <summary>
/// Adam (no weight decay, no AMSGrad) on <see cref="HeldScalars"/>: the same updates as
/// TorchSharp 0.107's <c>optim.Adam(parameters, lr)</c>, bit for bit, in the same order.
/// <para>
/// Why: TorchSharp's <c>Adam.step</c> makes a Scalar for the call for every coefficient (and the
/// hidden <c>alpha</c> = 1 of <c>add_(Scalar)</c>), so a collection on another thread can free one
/// while libtorch reads it (see <see cref="HeldScalars"/>). The colour-map fit runs Adam on the
/// serving path until 2026-12-01 (it runs no libtorch now); Adam lives on with the reference fit (TorchFitReference).
/// </para>
/// </summary>
public sealed class HeldAdam : IDisposable
{
    readonly Parameter[] parameters;
    readonly Tensor[] expAvg, expAvgSq;
    readonly long[] steps;
    readonly double lr, beta1, beta2, eps;

    /// <summary>Defaults as <c>optim.Adam</c>'s.</summary>
    public HeldAdam(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
    {
        this.parameters = parameters.ToArray();
        this.lr = lr;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        expAvg = this.parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        expAvgSq = this.parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        steps = new long[this.parameters.Length];
    }

    /// <summary>Zeroes the gradients in place, as <c>Optimizer.zero_grad</c> does.</summary>
    public void ZeroGrad()
    {
        foreach (var p in parameters)
        {
            using var grad = p.grad;
            grad?.zero_();
        }
    }

    /// <summary>One update of every parameter that has a gradient (<c>Adam.step</c>).</summary>
    public void Step()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        for (int i = 0; i < parameters.Length; i++)
        {
            var grad = parameters[i].grad;
            if (grad is null) continue;
            long step = ++steps[i];
            double biasCorrection1 = 1 - Math.Pow(beta1, step);
            double biasCorrection2 = 1 - Math.Pow(beta2, step);
            expAvg[i].mul_(HeldScalars.Of(beta1)).add_(grad, HeldScalars.Of(1 - beta1));
            expAvgSq[i].mul_(HeldScalars.Of(beta2)).addcmul_(grad, grad, HeldScalars.Of(1 - beta2));   // TorchSharp's grad.conj() is grad itself for real tensors
            var denom = expAvgSq[i].sqrt().div(HeldScalars.Of(Math.Sqrt(biasCorrection2))).add_(HeldScalars.Of(eps), HeldScalars.One);
            double stepSize = lr / biasCorrection1;
            parameters[i].addcdiv_(expAvg[i], denom, HeldScalars.Of(-stepSize));
        }
    }

    public void Dispose()
    {
        foreach (var t in expAvg) t.Dispose();
        foreach (var t in expAvgSq) t.Dispose();
    }
}
