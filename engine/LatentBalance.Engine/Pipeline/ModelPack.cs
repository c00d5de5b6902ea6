using LatentBalance.Engine.Balancer;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Vae;
using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Pipeline;

/// <summary>Which VAE a pack uses and where its files come from (<c>pack.json</c>'s <c>vae</c>).</summary>
public sealed record VaeSpec
{
    /// <summary>"tiny" (TAESD family) or "autoencoder-kl" (diffusers AutoencoderKL).</summary>
    public string Type { get; init; } = "tiny";
    /// <summary>tiny: its <see cref="TinyAutoencoderConfig"/> JSON, relative to the pack.</summary>
    public string? Config { get; init; }
    /// <summary>tiny: model-store ids (fetched, pinned, hash-checked) or paths relative to the pack.</summary>
    public string? Encoder { get; init; }
    public string? Decoder { get; init; }
    /// <summary>autoencoder-kl: a folder (relative to the pack; default "vae") with config.json and diffusion_pytorch_model.safetensors.</summary>
    public string? Directory { get; init; }
}

/// <summary>How the pack's correction is made from the balanced latent (<c>pack.json</c>'s <c>correction</c>): the
/// per-photo colour-map fit and the points per side of the baked LUT. A field the file leaves out takes the default here.</summary>
public sealed record CorrectionSettings
{
    public int LutSize { get; init; } = LutBaker.DefaultSize;
    public ColorMapFitOptions Fit { get; init; } = new();
}

/// <summary><c>pack.json</c>: a named VAE, a trained balancer and the correction settings; read strictly.</summary>
public sealed record ModelPackManifest : IModelConfig
{
    /// <summary>Reported with every result (<c>BalanceEngine.PackName</c>).</summary>
    public string Name { get; init; } = "default";
    /// <summary>Shown by <c>latentbalance models list</c>.</summary>
    public string? Description { get; init; }
    public VaeSpec Vae { get; init; } = new();
    /// <summary>Folder (relative to the pack) holding balancer.safetensors and balancer.json.</summary>
    public string Balancer { get; init; } = "balancer";
    public CorrectionSettings Correction { get; init; } = new();

    public void Validate(string source)
    {
        void Check(bool ok, string why) { if (!ok) throw new ModelFileException($"{source}: {why}"); }
        Check(!string.IsNullOrWhiteSpace(Name), "name is empty");
        Check(!string.IsNullOrWhiteSpace(Balancer), "balancer is empty");
        var v = Vae ?? throw new ModelFileException($"{source}: vae is null");
        if (v.Type == "tiny")
            Check(v.Config != null && v.Encoder != null && v.Decoder != null && v.Directory == null,
                "a tiny VAE names its config, encoder and decoder (and no directory)");
        else if (v.Type == "autoencoder-kl")
            Check(v.Config == null && v.Encoder == null && v.Decoder == null, "an autoencoder-kl VAE names only its directory (config.json and the weights in it)");
        else
            Check(false, $"unknown VAE type '{v.Type}' (tiny or autoencoder-kl)");
        var c = Correction ?? throw new ModelFileException($"{source}: correction is null");
        var f = c.Fit ?? throw new ModelFileException($"{source}: correction.fit is null");
        Check(c.LutSize is >= 2 and <= 129, $"correction.lut_size must be 2..129, got {c.LutSize}");
        f.Validate(source);
    }
}

/// <summary>
/// A model pack: a folder with <c>pack.json</c>, the balancer weights, and a model card. The VAE's
/// files are third-party and are fetched into the user's cache by the <see cref="ModelStore"/>.
/// </summary>
public sealed class ModelPack
{
    public const string ManifestFile = "pack.json";
    public const string PackEnvironmentVariable = "LATENTBALANCE_PACK";

    ModelPack(string dir, ModelPackManifest manifest, TinyAutoencoderConfig? tiny) { Directory = dir; Manifest = manifest; _tiny = tiny; }

    readonly TinyAutoencoderConfig? _tiny;

    public string Directory { get; }
    public ModelPackManifest Manifest { get; }

    /// <summary>The correction settings (colour-map fit, LUT size) the pack asks for; the defaults where it says nothing.</summary>
    public CorrectionSettings Correction => Manifest.Correction;

    /// <summary>Reads <c>pack.json</c> (and a tiny VAE's config) strictly: a field that is not known is refused, naming the file.</summary>
    public static ModelPack Open(string dir)
    {
        var path = Path.Combine(dir, ManifestFile);
        if (!File.Exists(path)) throw new ModelFileException($"{path}: not a model pack (no {ManifestFile})");
        var m = Pretrained.ReadConfig<ModelPackManifest>(path);
        var tiny = m.Vae.Type == "tiny" ? Pretrained.ReadConfig<TinyAutoencoderConfig>(Path.Combine(dir, m.Vae.Config!)) : null;
        return new ModelPack(Path.GetFullPath(dir), m, tiny);
    }

    /// <summary>
    /// The default pack: $LATENTBALANCE_PACK, else <c>models/default</c> beside the program (the build
    /// copies it there), else <c>models/default</c> in a folder above it (running from a source tree).
    /// </summary>
    public static string DefaultDirectory()
    {
        var env = Environment.GetEnvironmentVariable(PackEnvironmentVariable);
        if (!string.IsNullOrEmpty(env)) return env;
        var beside = Path.Combine(AppContext.BaseDirectory, "models", "default");
        if (File.Exists(Path.Combine(beside, ManifestFile))) return beside;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var p = Path.Combine(d.FullName, "models", "default");
            if (File.Exists(Path.Combine(p, ManifestFile))) return p;
        }
        return beside;
    }

    public IVae LoadVae(ModelStore store, Device device, CancellationToken cancel = default)
    {
        var v = Manifest.Vae;
        IVae vae = _tiny is not null
            ? TinyAutoencoder.Load(_tiny, ResolveFile(store, v.Encoder!, cancel), ResolveFile(store, v.Decoder!, cancel))
            : AutoencoderKL.LoadDirectory(Path.Combine(Directory, v.Directory ?? "vae"));
        vae.MoveTo(device);
        return vae;
    }

    /// <summary>The VAE's name as a balancer's config records it (<see cref="BalancerConfig.Vae"/>):
    /// a tiny autoencoder's config name, "custom" for any other VAE.</summary>
    public string VaeName => _tiny?.Name ?? "custom";

    /// <summary>A tiny VAE's config (null for an AutoencoderKL pack).</summary>
    public TinyAutoencoderConfig? TinyConfig => _tiny;

    /// <summary>The folder of the balancer (balancer.json and balancer.safetensors).</summary>
    public string BalancerFolder => Path.Combine(Directory, Manifest.Balancer);

    public BalancerNet LoadBalancer(Device device)
    {
        var net = BalancerNet.Load(BalancerFolder);
        try { CheckBalancer(net.Config); }
        catch { net.Dispose(); throw; }
        net.to(device);
        return net;
    }

    /// <summary>Refuses a balancer trained on another VAE's latents than this pack's.</summary>
    public void CheckBalancer(BalancerConfig config)
    {
        if (config.Vae != "custom" && !string.Equals(config.Vae, VaeName, StringComparison.OrdinalIgnoreCase))
            throw new ModelFileException($"{Path.Combine(BalancerFolder, BalancerNet.ConfigFile)}: the balancer was trained on latents of the VAE '{config.Vae}', but {Path.Combine(Directory, ManifestFile)} uses '{VaeName}'");
    }

    /// <summary>Refuses a balancer whose latent channels are not the VAE's (both runtimes check this once both are loaded).</summary>
    public static void CheckLatentChannels(BalancerConfig balancer, string vaeName, int vaeLatentChannels)
    {
        if (balancer.LatentChannels != vaeLatentChannels)
            throw new ModelFileException($"the balancer expects {balancer.LatentChannels} latent channels but the VAE '{vaeName}' gives {vaeLatentChannels}");
    }

    /// <summary>A VAE file of the pack: a path relative to the pack, else a model-store id (fetched, pinned, hash-checked).</summary>
    public string ResolveFile(ModelStore store, string id, CancellationToken cancel)
    {
        var local = Path.Combine(Directory, id);
        return File.Exists(local) ? local : store.Resolve(id, null, cancel);
    }
}
