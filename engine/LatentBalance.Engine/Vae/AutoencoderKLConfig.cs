using System.Text.Json;
using LatentBalance.Engine.ModelFiles;

namespace LatentBalance.Engine.Vae;

/// <summary>
/// Shape of a diffusers <c>AutoencoderKL</c> (the Stable Diffusion VAE family), with the same field
/// meanings as its <c>config.json</c>. Defaults are the SD 1.x/2.x VAE (e.g. stabilityai/sd-vae-ft-mse).
/// </summary>
public sealed record AutoencoderKLConfig
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

    /// <summary>Image size over latent size: 2^(number of blocks - 1).</summary>
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
    }

    /// <summary>Reads a diffusers <c>config.json</c> (unknown fields are ignored; known ones must make sense).</summary>
    public static AutoencoderKLConfig Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFileException($"{path}: cannot read VAE config: {e.Message}", e);
        }
        return FromJson(text, path);
    }

    public static AutoencoderKLConfig FromJson(string json, string source = "config.json")
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new ModelFileException($"{source}: not valid JSON: {e.Message}", e); }
        using (doc)
        {
            var r = doc.RootElement;
            if (r.ValueKind != JsonValueKind.Object) throw new ModelFileException($"{source}: a VAE config must be a JSON object");
            var c = new AutoencoderKLConfig();

            if (Str(r, "_class_name", source) is { } cls && cls != "AutoencoderKL")
                throw new ModelFileException($"{source}: _class_name is '{cls}', expected 'AutoencoderKL'");
            if (Str(r, "act_fn", source) is { } act && act != "silu")
                throw new ModelFileException($"{source}: act_fn '{act}' is not supported (only silu)");
            if (Str(r, "norm_type", source) is { } nt && nt != "group")
                throw new ModelFileException($"{source}: norm_type '{nt}' is not supported (only group)");

            var boc = IntList(r, "block_out_channels", source) ?? c.BlockOutChannels;
            CheckTypes(r, "down_block_types", "DownEncoderBlock2D", boc.Count, source);
            CheckTypes(r, "up_block_types", "UpDecoderBlock2D", boc.Count, source);

            c = c with
            {
                InChannels = Int(r, "in_channels", source) ?? c.InChannels,
                OutChannels = Int(r, "out_channels", source) ?? c.OutChannels,
                LatentChannels = Int(r, "latent_channels", source) ?? c.LatentChannels,
                BlockOutChannels = boc,
                LayersPerBlock = Int(r, "layers_per_block", source) ?? c.LayersPerBlock,
                NormNumGroups = Int(r, "norm_num_groups", source) ?? c.NormNumGroups,
                ScalingFactor = Num(r, "scaling_factor", source) ?? c.ScalingFactor,
                ShiftFactor = Num(r, "shift_factor", source),
                UseQuantConv = Bool(r, "use_quant_conv", source) ?? c.UseQuantConv,
                UsePostQuantConv = Bool(r, "use_post_quant_conv", source) ?? c.UsePostQuantConv,
                MidBlockAddAttention = Bool(r, "mid_block_add_attention", source) ?? c.MidBlockAddAttention,
            };
            c.Validate(source);
            return c;
        }
    }

    static bool Present(JsonElement r, string key, out JsonElement v) =>
        r.TryGetProperty(key, out v) && v.ValueKind != JsonValueKind.Null;

    static string? Str(JsonElement r, string key, string source)
    {
        if (!Present(r, key, out var v)) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw new ModelFileException($"{source}: '{key}' must be a string");
    }

    static int? Int(JsonElement r, string key, string source)
    {
        if (!Present(r, key, out var v)) return null;
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : throw new ModelFileException($"{source}: '{key}' must be an integer");
    }

    static double? Num(JsonElement r, string key, string source)
    {
        if (!Present(r, key, out var v)) return null;
        return v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw new ModelFileException($"{source}: '{key}' must be a number");
    }

    static bool? Bool(JsonElement r, string key, string source)
    {
        if (!Present(r, key, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ModelFileException($"{source}: '{key}' must be true or false"),
        };
    }

    static IReadOnlyList<int>? IntList(JsonElement r, string key, string source)
    {
        if (!Present(r, key, out var v)) return null;
        if (v.ValueKind != JsonValueKind.Array) throw new ModelFileException($"{source}: '{key}' must be an array of integers");
        var list = new List<int>();
        foreach (var e in v.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out var i)) throw new ModelFileException($"{source}: '{key}' must be an array of integers");
            list.Add(i);
        }
        return list;
    }

    static void CheckTypes(JsonElement r, string key, string expected, int count, string source)
    {
        if (!Present(r, key, out var v)) return;
        if (v.ValueKind != JsonValueKind.Array) throw new ModelFileException($"{source}: '{key}' must be an array");
        var types = v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString() : null).ToList();
        if (types.Count != count)
            throw new ModelFileException($"{source}: '{key}' has {types.Count} entries but block_out_channels has {count}");
        var bad = types.FirstOrDefault(t => t != expected);
        if (types.Any(t => t != expected))
            throw new ModelFileException($"{source}: '{key}' entry '{bad}' is not supported (only {expected})");
    }
}
