using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Vae;

/// <summary>
/// A pre-trained image autoencoder. Images are NCHW float tensors with values in [0, 1]
/// (implementations convert to their own input range); latents are NCHW with
/// <see cref="LatentChannels"/> channels at 1/<see cref="DownscaleFactor"/> of the image size.
/// </summary>
public interface IVae : IDisposable
{
    string Name { get; }
    int LatentChannels { get; }
    int DownscaleFactor { get; }

    /// <summary>True when the encoder gives a distribution (mean and log-variance), e.g. AutoencoderKL.</summary>
    bool IsProbabilistic { get; }

    /// <summary>Deterministic latent (the mean for probabilistic VAEs).</summary>
    Tensor Encode(Tensor image);

    /// <summary>Mean and log-variance; LogVar is null for deterministic VAEs.</summary>
    (Tensor Mean, Tensor? LogVar) EncodeDistribution(Tensor image);

    /// <summary>Latent to image, roughly [0, 1], not clamped.</summary>
    Tensor Decode(Tensor latent);

    /// <summary>Moves the weights to a device.</summary>
    void MoveTo(Device device);
}
