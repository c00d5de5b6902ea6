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

    /// <summary>The network of <paramref name="config"/>, untrained (load weights with <see cref="Load(string, AutoencoderKLConfig?, Device?)"/>).</summary>
    public AutoencoderKL(AutoencoderKLConfig config)
    {
        config.Validate();
        NativeSetup.EnsureInitialized();
        Config = config;
        _net = new AutoencoderKLBlocks.Net(config);
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
        using var vae = new AutoencoderKL(config);
        return vae._net.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
    }

    /// <summary>Loads a diffusers folder: <c>config.json</c> and <c>diffusion_pytorch_model.safetensors</c> (or their <c>vae/</c> subfolder).</summary>
    public static AutoencoderKL LoadDirectory(string dir, Device? device = null)
    {
        var (config, weights) = DirectoryFiles(dir);
        return Load(weights, Pretrained.ReadConfig<AutoencoderKLConfig>(config), device);
    }

    /// <summary>The config and weights of a diffusers folder, or of its <c>vae/</c> subfolder; both must exist.</summary>
    public static (string Config, string Weights) DirectoryFiles(string dir)
    {
        var d = dir;
        if (!File.Exists(Path.Combine(d, ConfigFileName)) && File.Exists(Path.Combine(d, "vae", ConfigFileName))) d = Path.Combine(d, "vae");
        var cfg = Path.Combine(d, ConfigFileName);
        var weights = Path.Combine(d, WeightsFileName);
        if (!File.Exists(cfg)) throw new ModelFileException($"{dir}: no {ConfigFileName} for the VAE");
        if (!File.Exists(weights)) throw new ModelFileException($"{dir}: no {WeightsFileName} for the VAE");
        return (cfg, weights);
    }

    /// <summary>Loads weights from a safetensors file (F32/F16/BF16), strictly; the config defaults to the SD VAE.
    /// Older diffusers attention names (<c>query/key/value/proj_attn</c>, possibly as 1x1 conv weights) are accepted and renamed.</summary>
    public static AutoencoderKL Load(string weightsPath, AutoencoderKLConfig? config = null, Device? device = null) =>
        Pretrained.Build(() => new AutoencoderKL(config ?? AutoencoderKLConfig.StableDiffusion), vae =>
        {
            Pretrained.LoadInto(vae._net, weightsPath, Rename);
            if (device is not null) vae.MoveTo(device);
        });

    /// <summary>Builds the network and copies a state dict into it, strictly (see <see cref="Load(string, AutoencoderKLConfig?, Device?)"/>).
    /// The tensors are copied; the caller keeps ownership of <paramref name="stateDict"/>.</summary>
    public static AutoencoderKL FromStateDict(IReadOnlyDictionary<string, Tensor> stateDict, AutoencoderKLConfig config, string source = "state dict", Device? device = null) =>
        Pretrained.Build(() => new AutoencoderKL(config), vae =>
        {
            Pretrained.LoadInto(vae._net, stateDict.Select(kv => Rename(kv.Key, kv.Value)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal), source);
            if (device is not null) vae.MoveTo(device);
        });

    /// <summary>Older diffusers attention names and today's (as <c>.name.</c> parts of a key).</summary>
    public static IReadOnlyList<(string Old, string New)> LegacyAttention { get; } =
    [
        (".query.", ".to_q."), (".key.", ".to_k."), (".value.", ".to_v."), (".proj_attn.", ".to_out.0."),
    ];

    /// <summary>Older diffusers attention names to today's; 1x1 conv weights [out, in, 1, 1] of a linear layer to [out, in].</summary>
    static (string Key, Tensor Value) Rename(string key, Tensor t)
    {
        if (!key.Contains(".attentions.", StringComparison.Ordinal)) return (key, t);
        foreach (var (o, n) in LegacyAttention)
            if (key.Contains(o, StringComparison.Ordinal)) { key = key.Replace(o, n, StringComparison.Ordinal); break; }
        if (key.EndsWith(".weight", StringComparison.Ordinal) && !key.Contains("group_norm", StringComparison.Ordinal)
            && t.dim() == 4 && t.shape[2] == 1 && t.shape[3] == 1)
            return (key, t.view(t.shape[0], t.shape[1]));
        return (key, t);
    }

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
