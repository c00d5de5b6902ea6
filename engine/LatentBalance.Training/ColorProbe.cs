using LatentBalance.Engine.Balancer;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Runtime;
using LatentBalance.Engine.Vae;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LatentBalance.Training;

/// <summary>
/// A linear read-out of colour from the latent: at each latent position, the mean sRGB colour of
/// the patch the decoder makes there, as an affine map of the latent around that position (a
/// k x k convolution, fitted by least squares on decodes of clean training latents).
///
/// Why: the method judges a balanced latent only by the colours its decode gives, but the latent
/// MSE weighs all channels alike, and most of a latent is texture. The trainer can add the squared
/// error of this read-out (<see cref="TrainingRecipe.ColorWeight"/>), a colour term that costs a 1x1
/// convolution instead of a pass through the decoder.
/// </summary>
public sealed class ColorProbe : IDisposable
{
    public ColorProbe(Tensor weight, Tensor bias, double r2)
    {
        Weight = weight; Bias = bias; R2 = r2;
    }

    /// <summary>[3, C, k, k].</summary>
    public Tensor Weight { get; }
    /// <summary>[3].</summary>
    public Tensor Bias { get; }
    /// <summary>Share of the patch colours' variance the read-out explains, on the latents it was fitted on.</summary>
    public double R2 { get; }

    /// <summary>[N, C, h, w] latents to [N, 3, h, w] patch colours.</summary>
    public Tensor Apply(Tensor z)
        => F.conv2d(z, Weight.to(z.device), Bias.to(z.device), padding: [Weight.shape[2] / 2, Weight.shape[3] / 2]);

    /// <summary>Mean squared difference of the read-out colours of two latents of the same shape.</summary>
    public Tensor Error(Tensor a, Tensor b) => (Apply(a) - Apply(b)).Squared().mean();

    /// <summary>Fits the read-out on the decodes of <paramref name="latents"/> [N, C, h, w].</summary>
    public static ColorProbe Fit(IVae vae, Tensor latents, int batch = 16, int kernel = 3)
    {
        if (kernel < 1 || kernel % 2 == 0) throw new ArgumentException($"kernel must be odd, got {kernel}");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        int f = vae.DownscaleFactor;
        var xs = new List<Tensor>(); var ys = new List<Tensor>();
        for (long i = 0; i < latents.shape[0]; i += batch)
        {
            var z = latents[TensorIndex.Slice(i, Math.Min(latents.shape[0], i + batch))];
            var colours = F.avg_pool2d(vae.Decode(z).ClampTo(0, 1), f).cpu();           // [b, 3, h, w]
            // each position's k x k neighbourhood (zero-padded, as the convolution pads) as one row
            var cols = F.unfold(z.cpu(), kernel, padding: kernel / 2);                      // [b, C*k*k, h*w]
            xs.Add(cols.permute(0, 2, 1).reshape(-1, cols.shape[1]));
            ys.Add(colours.permute(0, 2, 3, 1).reshape(-1, 3));
        }
        var x = cat(xs, 0).to(float64);
        var y = cat(ys, 0).to(float64);
        var xb = cat([x, ones(x.shape[0], 1, dtype: float64)], 1);
        // normal equations with a little ridge: C + 1 unknowns per colour, many thousands of rows
        var ridge = eye(xb.shape[1], dtype: float64).Times(1e-6).Times(x.shape[0]);
        var gram = xb.t().matmul(xb).Plus(ridge);
        var coef = linalg.solve(gram, xb.t().matmul(y));                                 // [C + 1, 3]
        var residual = y - xb.matmul(coef);
        double r2 = 1 - residual.Squared().sum().item<double>() / (y - y.mean([0])).Squared().sum().item<double>();
        var w = coef[..^1].t().reshape(3, latents.shape[1], kernel, kernel).to(float32).contiguous().MoveToOuterDisposeScope();
        var b = coef[^1].to(float32).contiguous().MoveToOuterDisposeScope();
        return new ColorProbe(w, b, r2);
    }

    public void Save(string path)
    {
        using var r2 = tensor(new[] { (float)R2 });
        SafeTensors.Write(path, new Dictionary<string, Tensor> { ["weight"] = Weight, ["bias"] = Bias, ["r2"] = r2 });
    }

    public static ColorProbe Load(string path)
    {
        var t = Pretrained.ReadWeights(path);
        if (!t.TryGetValue("weight", out var w) || !t.TryGetValue("bias", out var b) || !t.TryGetValue("r2", out var r2))
            throw new ModelFileException($"{path}: not a colour probe (needs weight, bias and r2)");
        double v = r2.item<float>();
        r2.Dispose();
        return new ColorProbe(w, b, v);
    }

    public void Dispose()
    {
        Weight.Dispose(); Bias.Dispose();
    }
}
