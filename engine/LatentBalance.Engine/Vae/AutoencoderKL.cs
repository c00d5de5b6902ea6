using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Vae;

/// <summary>
/// The Stable Diffusion VAE (diffusers <c>AutoencoderKL</c>), loaded from a diffusers safetensors
/// state dict with strict key and shape checks. Images are NCHW in [0, 1] (mapped to [-1, 1] inside);
/// latents are <c>(mean - shift) * scaling_factor</c> when <see cref="AutoencoderKLConfig.ApplyScaling"/>.
/// Outputs live on the VAE's device. Inference only (no gradients).
/// </summary>
public sealed class AutoencoderKL : IVae
{
    public const string WeightsFileName = "diffusion_pytorch_model.safetensors";
    public const string ConfigFileName = "config.json";

    /// <summary>Log-variance clamp of diffusers' DiagonalGaussianDistribution.</summary>
    public const double LogVarMin = -30, LogVarMax = 20;

    readonly AutoencoderKLBlocks.Net _net;
    Device _device = CPU;

    AutoencoderKL(AutoencoderKLConfig config, AutoencoderKLBlocks.Net net)
    {
        Config = config;
        _net = net;
        _net.eval();
    }

    public AutoencoderKLConfig Config { get; }
    public string Name => Config.Name;
    public int LatentChannels => Config.LatentChannels;
    public int DownscaleFactor => Config.DownscaleFactor;
    public bool IsProbabilistic => true;
    public Device Device => _device;

    /// <summary>Parameter names and shapes this config expects in a state dict, in diffusers' naming.</summary>
    public static IReadOnlyDictionary<string, long[]> ExpectedParameters(AutoencoderKLConfig config)
    {
        config.Validate();
        NativeSetup.EnsureInitialized();
        using var net = new AutoencoderKLBlocks.Net(config);
        return net.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
    }

    /// <summary>Loads a diffusers folder: <c>config.json</c> and <c>diffusion_pytorch_model.safetensors</c> (or their <c>vae/</c> subfolder).</summary>
    public static AutoencoderKL LoadDirectory(string dir, Device? device = null)
    {
        var d = dir;
        if (!File.Exists(Path.Combine(d, ConfigFileName)) && File.Exists(Path.Combine(d, "vae", ConfigFileName))) d = Path.Combine(d, "vae");
        var cfg = Path.Combine(d, ConfigFileName);
        var weights = Path.Combine(d, WeightsFileName);
        if (!File.Exists(cfg)) throw new ModelFileException($"{dir}: no {ConfigFileName} for the VAE");
        if (!File.Exists(weights)) throw new ModelFileException($"{dir}: no {WeightsFileName} for the VAE");
        return Load(weights, AutoencoderKLConfig.Load(cfg), device);
    }

    /// <summary>Loads weights from a safetensors file (F32/F16/BF16); the config defaults to the SD VAE.</summary>
    public static AutoencoderKL Load(string weightsPath, AutoencoderKLConfig? config = null, Device? device = null)
    {
        var sd = SafeTensors.Read(weightsPath);
        try
        {
            return FromStateDict(sd, config ?? AutoencoderKLConfig.StableDiffusion, weightsPath, device);
        }
        finally
        {
            foreach (var t in sd.Values) t.Dispose();
        }
    }

    /// <summary>
    /// Builds the network and copies a state dict into it. Every expected key must be present with its
    /// exact shape and nothing else may be there. Older diffusers attention names
    /// (<c>query/key/value/proj_attn</c>, possibly as 1x1 conv weights) are accepted and renamed.
    /// The tensors are copied; the caller keeps ownership of <paramref name="stateDict"/>.
    /// </summary>
    public static AutoencoderKL FromStateDict(IReadOnlyDictionary<string, Tensor> stateDict, AutoencoderKLConfig config, string source = "state dict", Device? device = null)
    {
        config.Validate(source);
        NativeSetup.EnsureInitialized();
        var net = new AutoencoderKLBlocks.Net(config);
        try
        {
            var target = net.state_dict();
            var given = Normalize(stateDict);

            var missing = target.Keys.Where(k => !given.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
            var unexpected = given.Keys.Where(k => !target.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
            var wrongShape = target.Keys.Where(given.ContainsKey)
                .Where(k => !given[k].shape.SequenceEqual(target[k].shape))
                .OrderBy(k => k, StringComparer.Ordinal)
                .Select(k => $"{k}: expected [{string.Join(", ", target[k].shape)}], file has [{string.Join(", ", given[k].shape)}]")
                .ToList();
            if (missing.Count + unexpected.Count + wrongShape.Count > 0)
            {
                var parts = new List<string>();
                if (missing.Count > 0) parts.Add($"{missing.Count} missing key(s): {Few(missing)}");
                if (unexpected.Count > 0) parts.Add($"{unexpected.Count} unexpected key(s): {Few(unexpected)}");
                if (wrongShape.Count > 0) parts.Add($"{wrongShape.Count} shape mismatch(es): {Few(wrongShape)}");
                throw new ModelFileException($"{source}: does not match the AutoencoderKL config (block_out_channels [{string.Join(", ", config.BlockOutChannels)}], layers_per_block {config.LayersPerBlock}, latent_channels {config.LatentChannels}): {string.Join("; ", parts)}");
            }

            using (no_grad())
            {
                foreach (var (k, p) in target)
                {
                    var src = given[k];
                    if (!src.is_floating_point())
                        throw new ModelFileException($"{source}: tensor '{k}' has type {src.dtype}, expected a floating-point type");
                    p.copy_(src);
                }
            }
            var vae = new AutoencoderKL(config, net);
            if (device is not null) vae.MoveTo(device);
            return vae;
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }

    static readonly (string Old, string New)[] LegacyAttention =
    [
        (".query.", ".to_q."), (".key.", ".to_k."), (".value.", ".to_v."), (".proj_attn.", ".to_out.0."),
    ];

    static Dictionary<string, Tensor> Normalize(IReadOnlyDictionary<string, Tensor> sd)
    {
        var d = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (k, t) in sd)
        {
            var key = k;
            var tensor = t;
            if (k.Contains(".attentions.", StringComparison.Ordinal))
            {
                foreach (var (o, n) in LegacyAttention)
                    if (key.Contains(o, StringComparison.Ordinal)) { key = key.Replace(o, n, StringComparison.Ordinal); break; }
                // Weights saved from 1x1 convs: [out, in, 1, 1] for a linear layer.
                if (key.EndsWith(".weight", StringComparison.Ordinal) && !key.Contains("group_norm", StringComparison.Ordinal)
                    && t.dim() == 4 && t.shape[2] == 1 && t.shape[3] == 1)
                    tensor = t.view(t.shape[0], t.shape[1]);
            }
            d[key] = tensor;
        }
        return d;
    }

    static string Few(List<string> items) => string.Join(", ", items.Take(8)) + (items.Count > 8 ? $", ... ({items.Count - 8} more)" : "");

    public Tensor Encode(Tensor image)
    {
        var (mean, logvar) = EncodeDistribution(image);
        logvar?.Dispose();
        return mean;
    }

    /// <summary>
    /// Mean and log-variance of the latent. Both describe the latent Encode returns: with scaling on,
    /// the mean is shifted and scaled and the log-variance gets 2 ln(scaling_factor) added (after the clamp).
    /// </summary>
    public (Tensor Mean, Tensor? LogVar) EncodeDistribution(Tensor image)
    {
        CheckImage(image);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var x = image.to(ScalarType.Float32, _device).Times(2L).Minus(1L);
        var moments = _net.Moments(x);
        var parts = moments.chunk(2, 1);
        var mean = parts[0];
        var logvar = parts[1].ClampTo(LogVarMin, LogVarMax);
        if (Config.ApplyScaling)
        {
            if (Config.ShiftFactor is double s) mean = mean.Minus(s);
            mean = mean.Times(Config.ScalingFactor);
            logvar = logvar.Plus(2 * Math.Log(Config.ScalingFactor));
        }
        return (mean.contiguous().MoveToOuterDisposeScope(), logvar.contiguous().MoveToOuterDisposeScope());
    }

    public Tensor Decode(Tensor latent)
    {
        if (latent.dim() != 4 || latent.shape[1] != Config.LatentChannels)
            throw new ArgumentException($"{Name}: latent must be [N, {Config.LatentChannels}, h, w], got [{string.Join(", ", latent.shape)}]");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var z = latent.to(ScalarType.Float32, _device);
        if (Config.ApplyScaling)
        {
            z = z.Over(Config.ScalingFactor);
            if (Config.ShiftFactor is double s) z = z.Plus(s);
        }
        var y = _net.DecodeRaw(z);
        return y.Plus(1L).Times(0.5).MoveToOuterDisposeScope();
    }

    void CheckImage(Tensor image)
    {
        if (image.dim() != 4 || image.shape[1] != Config.InChannels)
            throw new ArgumentException($"{Name}: image must be [N, {Config.InChannels}, H, W], got [{string.Join(", ", image.shape)}]");
        int f = DownscaleFactor;
        if (image.shape[2] % f != 0 || image.shape[3] % f != 0 || image.shape[2] == 0 || image.shape[3] == 0)
            throw new ArgumentException($"{Name}: image size {image.shape[3]}x{image.shape[2]} must be a positive multiple of {f}");
    }

    public void MoveTo(Device device)
    {
        _net.to(device);
        _device = device;
    }

    public void Dispose() => _net.Dispose();
}
