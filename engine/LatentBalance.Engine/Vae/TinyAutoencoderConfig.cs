using System.Text.Json.Serialization;
using LatentBalance.Engine.ModelFiles;

namespace LatentBalance.Engine.Vae;

/// <summary>
/// Shape of a tiny autoencoder of the TAESD family (madebyollin/taesd; diffusers' AutoencoderTiny), read from a
/// config JSON (snake_case fields, <see cref="Pretrained.ReadConfig{T}"/>); the shipped pack's TAEF2 config is
/// <c>models/default/vae/config.json</c>. Name, latent channels and the pool mid-block differ between the family's
/// models and must be given; the rest defaults to the shape all of them share.
/// Encoder: Conv(image→W), stages of Blocks separated by stride-2 Convs (no bias), Conv(W→latent).
/// Decoder: [tanh(z/m)·m clamp], Conv(latent→W), ReLU, stages of Blocks separated by ×2 nearest upsample + Conv (no bias),
/// Conv(W→image). Every Conv is 3×3 with zero padding 1. State-dict keys are the indices of these flat sequentials.
/// </summary>
/// <remarks>
/// Conventions of the original weights (which this port follows): images are RGB in [0, 1] on both sides (diffusers'
/// AutoencoderTiny wraps the same weights with a [-1, 1] ↔ [0, 1] conversion instead). There is no latent scaling
/// factor: TAESD's latents already are SD's <em>scaled</em> diffusion latents (SD-VAE mean × 0.18215), TAEF2's are
/// the FLUX.2 VAE latents; diffusers' config says scaling_factor 1.0 / shift_factor 0. The latent_magnitude 3 and
/// latent_shift 0.5 in taesd.py only serve to store latents in 8-bit PNGs and are not used here.
/// </remarks>
public sealed record TinyAutoencoderConfig : IModelConfig
{
    /// <summary>Short name reported by <see cref="IVae.Name"/>, and the one a balancer's config names (e.g. "taef2").</summary>
    public required string Name { get; init; }

    public int ImageChannels { get; init; } = 3;

    /// <summary>32 for TAEF2 (the FLUX.2 latent space), 4 for TAESD.</summary>
    public required int LatentChannels { get; init; }

    /// <summary>Channels of every Block and inner Conv.</summary>
    public int Width { get; init; } = 64;

    /// <summary>Blocks per encoder stage, shallowest first; stages are separated by stride-2 convs.</summary>
    public int[] EncoderBlocks { get; init; } = [1, 3, 3, 3];

    /// <summary>Blocks per decoder stage, deepest first; stages are separated by ×2 upsample + conv.</summary>
    public int[] DecoderBlocks { get; init; } = [3, 3, 3, 1];

    /// <summary>Blocks of the deepest stage (last encoder stage, first decoder stage) start with the GroupNorm "pool"
    /// mid-block (TAEF2: true; TAESD: false).</summary>
    public required bool DeepestStagePool { get; init; }

    /// <summary>The pool mid-block widens to Width × this (1×1 convs).</summary>
    public int PoolExpansion { get; init; } = 4;

    public int PoolGroups { get; init; } = 4;

    /// <summary>The decoder starts with z → tanh(z / m) · m, m = <see cref="ClampMagnitude"/>.</summary>
    public bool DecoderClamp { get; init; } = true;

    public double ClampMagnitude { get; init; } = 3.0;

    /// <summary>2^(number of stages − 1): 8 for four stages.</summary>
    [JsonIgnore]
    public int DownscaleFactor => 1 << (EncoderBlocks.Length - 1);

    /// <summary>Throws a <see cref="ModelFileException"/> naming <paramref name="source"/> and the first inconsistent field.</summary>
    public void Validate(string source = "tiny autoencoder config")
    {
        void Check(bool ok, string msg) { if (!ok) throw new ModelFileException($"{source}: {msg}"); }
        Check(!string.IsNullOrWhiteSpace(Name), "name is empty");
        Check(ImageChannels > 0 && LatentChannels > 0 && Width > 0, "channel counts must be positive");
        Check(EncoderBlocks is { Length: > 0 and <= 8 }, "encoder_blocks needs 1 to 8 stages");
        Check(DecoderBlocks is not null && DecoderBlocks.Length == EncoderBlocks.Length, "decoder_blocks must have as many stages as encoder_blocks");
        Check(EncoderBlocks.All(b => b >= 0) && DecoderBlocks!.All(b => b >= 0), "block counts must not be negative");
        Check(PoolExpansion > 0 && PoolGroups > 0 && Width * PoolExpansion % PoolGroups == 0, "pool_groups must divide width × pool_expansion");
        Check(ClampMagnitude > 0 && double.IsFinite(ClampMagnitude), "clamp_magnitude must be positive");
    }

    public bool Equals(TinyAutoencoderConfig? other) =>
        other is not null && Name == other.Name && ImageChannels == other.ImageChannels && LatentChannels == other.LatentChannels
        && Width == other.Width && EncoderBlocks.AsSpan().SequenceEqual(other.EncoderBlocks) && DecoderBlocks.AsSpan().SequenceEqual(other.DecoderBlocks)
        && DeepestStagePool == other.DeepestStagePool && PoolExpansion == other.PoolExpansion && PoolGroups == other.PoolGroups
        && DecoderClamp == other.DecoderClamp && ClampMagnitude == other.ClampMagnitude;

    public override int GetHashCode() => HashCode.Combine(Name, LatentChannels, Width, EncoderBlocks.Length, DeepestStagePool, DecoderClamp);
}
