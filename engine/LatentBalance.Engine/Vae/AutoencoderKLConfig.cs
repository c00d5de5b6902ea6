using System.Text.Json;
using System.Text.Json.Serialization;
using LatentBalance.Engine.ModelFiles;

namespace LatentBalance.Engine.Vae;

/// <summary>
/// Shape of a diffusers <c>AutoencoderKL</c> (the Stable Diffusion VAE family), read from its <c>config.json</c>
/// with the same field names (<see cref="Pretrained.ReadConfig{T}"/>: a field this record does not know is refused).
/// Defaults are the SD 1.x/2.x VAE (e.g. stabilityai/sd-vae-ft-mse).
/// </summary>
public sealed record AutoencoderKLConfig : IModelConfig
{
    public int InChannels { get; init; } = 3;
    public int OutChannels { get; init; } = 3;
    public int LatentChannels { get; init; } = 4;
    public IReadOnlyList<int> BlockOutChannels { get; init; } = [128, 256, 512, 512];
    public int LayersPerBlock { get; init; } = 2;
    public int NormNumGroups { get; init; } = 32;

    /// <summary>GroupNorm epsilon; diffusers hard-codes 1e-6 in the VAE.</summary>
    public double NormEps { get; init; } = 1e-6;

    /// <summary>Latents are <c>(z - ShiftFactor) * ScalingFactor</c> when <see cref="ApplyScaling"/>, giving roughly unit variance.</summary>
    public double ScalingFactor { get; init; } = 0.18215;
    public double? ShiftFactor { get; init; }

    /// <summary>True: Encode returns scaled latents and Decode expects them (what diffusion models see). False: raw VAE latents.</summary>
    public bool ApplyScaling { get; init; } = true;

    public bool UseQuantConv { get; init; } = true;
    public bool UsePostQuantConv { get; init; } = true;
    public bool MidBlockAddAttention { get; init; } = true;

    /// <summary>Display name of the model.</summary>
    public string Name { get; init; } = "AutoencoderKL";

    /// <summary>Checked: "AutoencoderKL", "silu", "group", one DownEncoderBlock2D / UpDecoderBlock2D per block.</summary>
    [JsonPropertyName("_class_name")] public string? ClassName { get; init; }
    public string? ActFn { get; init; }
    public string? NormType { get; init; }
    public IReadOnlyList<string>? DownBlockTypes { get; init; }
    public IReadOnlyList<string>? UpBlockTypes { get; init; }

    /// <summary>Read and not used: provenance, the training resolution (any multiple of <see cref="DownscaleFactor"/>
    /// is taken), float16 upcasting (inference runs in float32) and the latent statistics of diffusion pipelines.</summary>
    [JsonPropertyName("_diffusers_version")] public string? DiffusersVersion { get; init; }
    [JsonPropertyName("_name_or_path")] public string? NameOrPath { get; init; }
    public JsonElement? SampleSize { get; init; }
    public bool? ForceUpcast { get; init; }
    public IReadOnlyList<double>? LatentsMean { get; init; }
    public IReadOnlyList<double>? LatentsStd { get; init; }

    /// <summary>Image size over latent size: 2^(number of blocks - 1).</summary>
    [JsonIgnore]
    public int DownscaleFactor => 1 << (BlockOutChannels.Count - 1);

    /// <summary>The Stable Diffusion 1.x/2.x VAE shape.</summary>
    public static AutoencoderKLConfig StableDiffusion { get; } = new();

    /// <summary>Checks the numbers make a buildable network; <paramref name="source"/> names the file in messages.</summary>
    public void Validate(string source = "AutoencoderKL config")
    {
        void Fail(string why) => throw new ModelFileException($"{source}: {why}");
        if (InChannels <= 0 || OutChannels <= 0 || LatentChannels <= 0) Fail("channel counts must be positive");
        if (BlockOutChannels is null || BlockOutChannels.Count == 0) Fail("block_out_channels is empty");
        if (LayersPerBlock <= 0) Fail($"layers_per_block {LayersPerBlock} must be positive");
        if (NormNumGroups <= 0) Fail($"norm_num_groups {NormNumGroups} must be positive");
        foreach (var c in BlockOutChannels!)
        {
            if (c <= 0 || c % NormNumGroups != 0)
                Fail($"block_out_channels entry {c} must be a positive multiple of norm_num_groups {NormNumGroups}");
        }
        if (!(ScalingFactor > 0) || double.IsInfinity(ScalingFactor)) Fail($"scaling_factor {ScalingFactor} must be positive");
        if (!(NormEps > 0)) Fail($"norm eps {NormEps} must be positive");
        if (ClassName is { } cls && cls != "AutoencoderKL") Fail($"_class_name is '{cls}', expected 'AutoencoderKL'");
        if (ActFn is { } act && act != "silu") Fail($"act_fn '{act}' is not supported (only silu)");
        if (NormType is { } nt && nt != "group") Fail($"norm_type '{nt}' is not supported (only group)");
        CheckTypes(DownBlockTypes, "down_block_types", "DownEncoderBlock2D");
        CheckTypes(UpBlockTypes, "up_block_types", "UpDecoderBlock2D");

        void CheckTypes(IReadOnlyList<string>? types, string key, string expected)
        {
            if (types is null) return;
            if (types.Count != BlockOutChannels!.Count) Fail($"'{key}' has {types.Count} entries but block_out_channels has {BlockOutChannels.Count}");
            if (types.FirstOrDefault(t => t != expected) is { } bad) Fail($"'{key}' entry '{bad}' is not supported (only {expected})");
        }
    }
}
