using static TorchSharp.torch;

namespace LatentBalance.Engine.Training;

/// <summary>
/// The training objective. For a VAE that gives a distribution (AutoencoderKL) it is the KL
/// divergence from the clean latent's Gaussian to the predicted Gaussian; for a deterministic VAE
/// (TAEF2) it is the negative log-likelihood of the clean latent under the predicted Gaussian.
/// Both are averaged over elements; constants are dropped.
/// </summary>
public static class BalancerLoss
{
    public static Tensor GaussianNll(Tensor predMean, Tensor predLogVar, Tensor clean)
        => (0.5 * (predLogVar + (clean - predMean).square() * (-predLogVar).exp())).mean();

    public static Tensor Kl(Tensor predMean, Tensor predLogVar, Tensor cleanMean, Tensor cleanLogVar)
        => (0.5 * (predLogVar - cleanLogVar + (cleanLogVar.exp() + (cleanMean - predMean).square()) * (-predLogVar).exp() - 1)).mean();

    public static Tensor Compute(Tensor predMean, Tensor predLogVar, Tensor cleanMean, Tensor? cleanLogVar)
        => cleanLogVar is null ? GaussianNll(predMean, predLogVar, cleanMean) : Kl(predMean, predLogVar, cleanMean, cleanLogVar);
}
