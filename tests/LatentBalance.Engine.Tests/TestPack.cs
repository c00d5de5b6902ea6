using LatentBalance.Engine.Balancer;
using LatentBalance.Engine.ModelFiles;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Tests;

/// <summary>
/// A model pack for tests: TAEF2 from ../shared/models (as the model-store mirror, into a private
/// cache) and a small balancer with weights the test makes (not the trained one), nudged away from
/// the identity so that balancing visibly changes a photo.
/// </summary>
public static class TestPack
{
    static readonly Lazy<string> Dir = new(Create);
    static readonly Lazy<string> Cache = new(() => TestPaths.TempDir("model-cache"));

    public static string Directory => Dir.Value;
    public static string CacheDir => Cache.Value;
    public static string MirrorDir => Path.Combine(TestPaths.Shared, "models");

    /// <summary>The shipped pack's TAEF2 config.</summary>
    public static string Taef2Config => Path.Combine(TestPaths.RepoRoot, "models", "default", "vae", "config.json");

    /// <summary>TAEF2 from the model-store mirror.</summary>
    public static global::LatentBalance.Engine.Vae.TinyAutoencoder Taef2()
    {
        using var store = Store();
        return global::LatentBalance.Engine.Vae.TinyAutoencoder.Load(Taef2Config, store.Resolve("taef2/taef2_encoder.pth"), store.Resolve("taef2/taef2_decoder.pth"));
    }

    public static ModelStore Store() => new(null, new ModelStoreOptions { CacheDir = CacheDir, MirrorDir = MirrorDir, UseEnvironment = false, AllowDownload = false });

    /// <summary>Environment for a child CLI process using this pack.</summary>
    public static IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["LATENTBALANCE_MODEL_MIRROR"] = MirrorDir,
        ["LATENTBALANCE_CACHE"] = CacheDir,
        ["LATENTBALANCE_PACK"] = Directory,
    };

    static string Create()
    {
        var dir = TestPaths.TempDir("pack");
        File.WriteAllText(Path.Combine(dir, "pack.json"), """
            { "name": "test", "vae": { "type": "tiny", "config": "vae/config.json", "encoder": "taef2/taef2_encoder.pth", "decoder": "taef2/taef2_decoder.pth" }, "balancer": "balancer" }
            """);
        System.IO.Directory.CreateDirectory(Path.Combine(dir, "vae"));
        File.Copy(Taef2Config, Path.Combine(dir, "vae", "config.json"));
        manual_seed(7);
        using var net = new BalancerNet(new BalancerConfig { LatentChannels = 32, Width = 16, NumBlocks = 2, AttentionAfter = [1], AttentionHeads = 2, GlobalWidth = 16 });
        using (no_grad())
            foreach (var (name, p) in net.named_parameters())
                if (name.StartsWith("conv_out")) p.add_(randn_like(p) * 0.02);
        net.Save(Path.Combine(dir, "balancer"));
        return dir;
    }
}
