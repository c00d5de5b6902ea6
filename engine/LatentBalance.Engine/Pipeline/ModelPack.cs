using System.Text.Json;
using System.Text.Json.Serialization;
using LatentBalance.Engine.Balancer;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Vae;
using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Pipeline;

/// <summary>Which VAE a pack uses and where its files come from.</summary>
public sealed record VaeSpec
{
    /// <summary>"tiny" (TAESD family) or "autoencoder-kl" (diffusers AutoencoderKL).</summary>
    [JsonPropertyName("type")] public string Type { get; init; } = "tiny";
    /// <summary>Tiny autoencoder preset ("taef2", "taesd").</summary>
    [JsonPropertyName("preset")] public string? Preset { get; init; } = "taef2";
    /// <summary>Model-store ids (fetched, pinned, hash-checked) or paths relative to the pack.</summary>
    [JsonPropertyName("encoder")] public string? Encoder { get; init; }
    [JsonPropertyName("decoder")] public string? Decoder { get; init; }
    /// <summary>For autoencoder-kl: a folder with config.json and diffusion_pytorch_model.safetensors.</summary>
    [JsonPropertyName("directory")] public string? Directory { get; init; }
}

/// <summary><c>pack.json</c>: a named VAE plus a trained balancer.</summary>
public sealed record ModelPackManifest
{
    [JsonPropertyName("name")] public string Name { get; init; } = "default";
    [JsonPropertyName("description")] public string? Description { get; init; }
    [JsonPropertyName("vae")] public VaeSpec Vae { get; init; } = new();
    /// <summary>Folder (relative to the pack) holding balancer.safetensors and balancer.json.</summary>
    [JsonPropertyName("balancer")] public string Balancer { get; init; } = "balancer";
}

/// <summary>
/// A model pack: a folder with <c>pack.json</c>, the balancer weights, and a model card. The VAE's
/// files are third-party and are fetched into the user's cache by the <see cref="ModelStore"/>.
/// </summary>
public sealed class ModelPack
{
    public const string ManifestFile = "pack.json";
    public const string PackEnvironmentVariable = "LATENTBALANCE_PACK";

    ModelPack(string dir, ModelPackManifest manifest) { Directory = dir; Manifest = manifest; }

    public string Directory { get; }
    public ModelPackManifest Manifest { get; }

    public static ModelPack Open(string dir)
    {
        var path = Path.Combine(dir, ManifestFile);
        if (!File.Exists(path)) throw new ModelFileException($"{path}: not a model pack (no {ManifestFile})");
        ModelPackManifest? m;
        try { m = JsonSerializer.Deserialize<ModelPackManifest>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new ModelFileException($"{path}: invalid pack manifest: {e.Message}", e); }
        return new ModelPack(Path.GetFullPath(dir), m ?? throw new ModelFileException($"{path}: empty pack manifest"));
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

    /// <summary>Model-store ids this pack needs (to pull or verify them).</summary>
    public IEnumerable<string> StoreIds()
    {
        foreach (var id in new[] { Manifest.Vae.Encoder, Manifest.Vae.Decoder })
            if (id != null && ModelManifest.BuiltIn.Contains(id)) yield return id;
    }

    public IVae LoadVae(ModelStore store, Device device, CancellationToken cancel = default)
    {
        var v = Manifest.Vae;
        IVae vae = v.Type switch
        {
            "tiny" => TinyAutoencoder.Load(TinyAutoencoderConfig.Preset(v.Preset ?? "taef2"),
                ResolveFile(store, v.Encoder, "encoder", cancel), ResolveFile(store, v.Decoder, "decoder", cancel)),
            "autoencoder-kl" => AutoencoderKL.LoadDirectory(Path.Combine(Directory, v.Directory ?? "vae")),
            _ => throw new ModelFileException($"{Path.Combine(Directory, ManifestFile)}: unknown VAE type '{v.Type}' (tiny or autoencoder-kl)"),
        };
        vae.MoveTo(device);
        return vae;
    }

    /// <summary>The VAE's name as a balancer's config records it (<see cref="BalancerConfig.Vae"/>):
    /// a tiny autoencoder's preset, "custom" for any other VAE.</summary>
    public string VaeName => Manifest.Vae.Type == "tiny" ? TinyAutoencoderConfig.Preset(Manifest.Vae.Preset ?? "taef2").Name : "custom";

    public BalancerNet LoadBalancer(Device device)
    {
        var folder = Path.Combine(Directory, Manifest.Balancer);
        var net = BalancerWeights.Load(folder);
        if (net.Config.Vae != "custom" && !string.Equals(net.Config.Vae, VaeName, StringComparison.OrdinalIgnoreCase))
        {
            net.Dispose();
            throw new ModelFileException($"{Path.Combine(folder, "balancer.json")}: the balancer was trained on latents of the VAE '{net.Config.Vae}', but {Path.Combine(Directory, ManifestFile)} uses '{VaeName}'");
        }
        net.to(device);
        return net;
    }

    string ResolveFile(ModelStore store, string? id, string what, CancellationToken cancel)
    {
        if (string.IsNullOrEmpty(id)) throw new ModelFileException($"{Path.Combine(Directory, ManifestFile)}: the VAE {what} is not named");
        var local = Path.Combine(Directory, id);
        if (File.Exists(local)) return local;
        return store.Resolve(id, null, cancel);
    }
}
