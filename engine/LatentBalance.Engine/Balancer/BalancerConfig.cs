using System.Text.Json.Serialization;
using LatentBalance.Engine.ModelFiles;

namespace LatentBalance.Engine.Balancer;

/// <summary>
/// Shape of the balancer network, stored as JSON beside its safetensors weights (the way diffusers keeps a
/// config.json next to the model file), read by <see cref="Pretrained.ReadConfig{T}"/>. A field missing from
/// the file takes the default here (the shape of older packs); a field this record does not know is refused.
/// </summary>
public sealed record BalancerConfig : IModelConfig
{
    /// <summary>Latent channels of the VAE this balancer works on (32 for TAEF2, 4 for the SD VAE).</summary>
    [JsonPropertyName("latent_channels")] public int LatentChannels { get; init; } = 32;

    /// <summary>Feature width of the residual trunk.</summary>
    [JsonPropertyName("width")] public int Width { get; init; } = 96;

    /// <summary>Run the residual trunk at half the latent resolution (a stride-2 conv in, nearest
    /// upsampling out, with a skip at full resolution): four times cheaper, and a colour cast is
    /// global anyway.</summary>
    [JsonPropertyName("downsample")] public bool Downsample { get; init; } = true;

    /// <summary>Number of residual blocks.</summary>
    [JsonPropertyName("num_blocks")] public int NumBlocks { get; init; } = 4;

    /// <summary>Pointwise (1x1) residual blocks at full latent resolution after the trunk, each
    /// modulated by the global branch: a colour cast changes every latent position by a nonlinear
    /// function of that position's own latent, which the half-resolution trunk cannot give alone.
    /// 0 gives the first shipped architecture.</summary>
    [JsonPropertyName("head_blocks")] public int HeadBlocks { get; init; }

    /// <summary>Hidden width of the head blocks, as a multiple of <see cref="Width"/>.</summary>
    [JsonPropertyName("head_expansion")] public int HeadExpansion { get; init; } = 2;

    /// <summary>Indices of the blocks followed by a self-attention block.</summary>
    [JsonPropertyName("attention_after")] public int[] AttentionAfter { get; init; } = [1, 3];

    [JsonPropertyName("attention_heads")] public int AttentionHeads { get; init; } = 4;

    /// <summary>Width of the hidden layer of the global-statistics branch that modulates each block.</summary>
    [JsonPropertyName("global_width")] public int GlobalWidth { get; init; } = 128;

    /// <summary>Quantile levels (0..1) of each latent channel over all positions, fed to the global
    /// branch beside mean and std: the brightest, darkest and middle of the frame carry the
    /// white-patch and shades-of-grey cues that a mean and a spread miss. Empty: mean and std only.</summary>
    [JsonPropertyName("global_quantiles")] public float[] GlobalQuantiles { get; init; } = [];

    /// <summary>Also modulate the head blocks from the trunk's output averaged over all positions,
    /// so the per-position head is conditioned on what the trunk (with attention) made of the whole
    /// frame, not only on the input statistics.</summary>
    [JsonPropertyName("trunk_global")] public bool TrunkGlobal { get; init; }

    /// <summary>Hidden width of the calibrated-strength head (0: none, the shape of packs before v3).
    /// The head reads the input latent's per-channel mean and std and the predicted correction's
    /// per-channel mean and RMS, and predicts how far along the correction to go for this photo:
    /// 0 leaves it, 1 is the balancer's own mean, above 1 undoes its hedging (up to
    /// <see cref="StrengthMax"/>). Trained after the balancer, with the balancer frozen
    /// (<c>latentbalance train --stage strength</c>).</summary>
    [JsonPropertyName("strength_head")] public int StrengthHead { get; init; }

    /// <summary>Also feed the strength head whole-photo colour statistics: per channel mean, 10/50/90th
    /// percentiles and max, log-chroma mean and spread, the share of near-neutral positions and the
    /// grey-edge estimate, all over the colours a linear read-out (kept in the head, fitted on VAE
    /// decodes) gives at each latent position.</summary>
    [JsonPropertyName("strength_color_stats")] public bool StrengthColorStats { get; init; }

    /// <summary>Factor on the head's strength. The head is fitted in the colour read-out's space,
    /// where the best strength of a correction comes out lower than in the pixels of the balanced
    /// photo; this factor, picked on training photos from the eval's strength curve, maps one onto
    /// the other.</summary>
    [JsonPropertyName("strength_scale")] public float StrengthScale { get; init; } = 1f;

    /// <summary>Largest strength the head can predict (before <see cref="StrengthScale"/>).</summary>
    [JsonPropertyName("strength_max")] public float StrengthMax { get; init; } = 2f;

    /// <summary>Lower and upper clamp of the predicted log-variance.</summary>
    [JsonPropertyName("logvar_min")] public float LogVarMin { get; init; } = -10f;
    [JsonPropertyName("logvar_max")] public float LogVarMax { get; init; } = 4f;

    /// <summary>Name of the VAE whose latents the balancer was trained on (e.g. "taef2"; "custom":
    /// not checked). The engine refuses a pack whose VAE is another one.</summary>
    [JsonPropertyName("vae")] public string Vae { get; init; } = "taef2";

    /// <summary>Tile size the latents were made from: the engine shrinks photos to this tile.</summary>
    [JsonPropertyName("tile_size")] public int TileSize { get; init; } = 224;

    public void Validate(string nameForErrors = "balancer config")
    {
        if (LatentChannels < 1 || LatentChannels > 1024) throw new ModelFileException($"{nameForErrors}: latent_channels {LatentChannels} out of range");
        if (Width < 8 || Width > 4096) throw new ModelFileException($"{nameForErrors}: width {Width} out of range");
        if (HeadBlocks < 0 || HeadBlocks > 64) throw new ModelFileException($"{nameForErrors}: head_blocks {HeadBlocks} out of range");
        if (HeadExpansion < 1 || HeadExpansion > 16) throw new ModelFileException($"{nameForErrors}: head_expansion {HeadExpansion} out of range");
        if (NumBlocks < 1 || NumBlocks > 64) throw new ModelFileException($"{nameForErrors}: num_blocks {NumBlocks} out of range");
        if (AttentionHeads < 1 || Width % AttentionHeads != 0) throw new ModelFileException($"{nameForErrors}: width {Width} is not divisible by attention_heads {AttentionHeads}");
        foreach (var q in GlobalQuantiles)
            if (!(q >= 0 && q <= 1)) throw new ModelFileException($"{nameForErrors}: global_quantiles level {q} is not in 0..1");
        if (StrengthHead < 0 || StrengthHead > 4096) throw new ModelFileException($"{nameForErrors}: strength_head {StrengthHead} out of range (0: none)");
        if (!(StrengthMax > 0 && StrengthMax <= 8)) throw new ModelFileException($"{nameForErrors}: strength_max {StrengthMax} is not in (0, 8]");
        if (!(StrengthScale > 0 && StrengthScale <= 8)) throw new ModelFileException($"{nameForErrors}: strength_scale {StrengthScale} is not in (0, 8]");
        if (StrengthColorStats && StrengthHead == 0) throw new ModelFileException($"{nameForErrors}: strength_color_stats needs strength_head > 0");
        if (TrunkGlobal && HeadBlocks == 0) throw new ModelFileException($"{nameForErrors}: trunk_global needs head_blocks > 0");
        if (TileSize < 64 || TileSize > 1024 || TileSize % 16 != 0) throw new ModelFileException($"{nameForErrors}: tile_size {TileSize} is not a multiple of 16 in 64..1024");
        if (string.IsNullOrWhiteSpace(Vae)) throw new ModelFileException($"{nameForErrors}: vae is empty (\"custom\": not checked)");
        foreach (var a in AttentionAfter)
            if (a < 0 || a >= NumBlocks) throw new ModelFileException($"{nameForErrors}: attention_after index {a} is not a block index");
    }
}
