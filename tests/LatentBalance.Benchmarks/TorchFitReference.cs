using LatentBalance.Engine.Runtime;
using LatentBalance.Engine.Pipeline;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LatentBalance.Benchmarks;

/// <summary>The colour-map fit the engine shipped until 2026-12-01 (a 3-64-64-3 residual MLP, Adam on
/// minibatches, TorchSharp): kept here as the reference the fit benchmark measures <see cref="ColorMapFitter"/> against.</summary>
/// <remarks>Defaults from the fit benchmark (docs/BENCHMARKS.md): 100 Adam steps on 2048-pixel
/// minibatches at 1e-2 reproduce the target within 0.09-0.12 mean CIEDE2000 of 300 steps on 4096 at
/// 5e-3 (e.g. 2.34 vs 2.22: the rest is what no global colour map can reach) in a fifth of the time.</remarks>
public sealed record TorchFitOptions
{
    public int Hidden { get; init; } = 64;
    public int Steps { get; init; } = 100;
    public int BatchSize { get; init; } = 2048;
    public double LearningRate { get; init; } = 1e-2;
    public int Seed { get; init; } = 1234;
}

/// <summary>
/// A tiny MLP from RGB to RGB, predicting a residual on its input so that it starts as the
/// identity. Fitted online per image; then baked into a 3D LUT.
/// </summary>
public sealed class TorchFitMlp : nn.Module<Tensor, Tensor>
{
    readonly Linear fc1, fc2, fc3;

    public TorchFitMlp(int hidden) : base("TorchFitMlp")
    {
        fc1 = nn.Linear(3, hidden);
        fc2 = nn.Linear(hidden, hidden);
        fc3 = nn.Linear(hidden, 3);
        RegisterComponents();
        using (no_grad()) { fc3.weight!.mul_(HeldScalars.Of(0.01)); fc3.bias!.zero_(); }
    }

    /// <param name="rgb">[P, 3] in [0, 1].</param>
    public override Tensor forward(Tensor rgb)
    {
        var h = F.silu(fc1.forward(rgb.Times(2L).Minus(1L)));
        h = F.silu(fc2.forward(h));
        return rgb.Plus(fc3.forward(h));
    }
}

/// <summary>
/// Step 5: fits the colour map from the distorted decode to the balanced decode. The two decodes
/// line up pixel for pixel, so every valid pixel is one (input colour, target colour) pair; the
/// padding around a non-square photo is masked out. Deterministic: seeded initialisation and
/// minibatch order, and single-threaded-equivalent arithmetic on CPU.
/// </summary>
public static class TorchFitReference
{
    /// <param name="source">[3, H, W] distorted decode, [0, 1].</param>
    /// <param name="target">[3, H, W] balanced decode, [0, 1].</param>
    /// <param name="mask">[H, W] bool, true where the photo is (null: all).</param>
    public static TorchFitMlp Fit(Tensor source, Tensor target, Tensor? mask, TorchFitOptions options, IProgress<double>? progress = null)
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var src = source.detach().to(float32).reshape(3, -1).t();
        var dst = target.detach().to(float32).reshape(3, -1).t();
        if (mask is not null)
        {
            var idx = mask.reshape(-1).nonzero().squeeze(1);
            if (idx.shape[0] < 16) throw new InvalidOperationException("the colour-map fit needs at least 16 valid pixels");
            src = src.index_select(0, idx);
            dst = dst.index_select(0, idx);
        }
        src = src.ClampTo(0L, 1L).contiguous();
        dst = dst.ClampTo(0L, 1L).contiguous();
        long count = src.shape[0];

        torch.manual_seed(options.Seed);
        var gen = new Generator((ulong)options.Seed);
        var mlp = new TorchFitMlp(options.Hidden);
        mlp.to(source.device);
        using var opt = new HeldAdam(mlp.parameters(), options.LearningRate);   // optim.Adam on held Scalars
        int batch = (int)Math.Min(options.BatchSize, count);
        for (int step = 0; step < options.Steps; step++)
        {
            using var stepScope = NewDisposeScope();
            var pick = randint(0, count, [batch], generator: gen, device: source.device);
            var x = src.index_select(0, pick);
            var y = dst.index_select(0, pick);
            opt.ZeroGrad();
            var loss = F.mse_loss(mlp.forward(x), y);
            loss.backward();
            opt.Step();
            if (progress != null && (step & 31) == 0) progress.Report((double)step / options.Steps);
        }
        progress?.Report(1.0);
        mlp.eval();
        return mlp;
    }
}
