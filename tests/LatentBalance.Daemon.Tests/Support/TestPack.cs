using LatentBalance.Engine.Balancer;
using static TorchSharp.torch;

namespace LatentBalance.Daemon.Tests.Support;

/// <summary>
/// A model pack for the daemon under test (same pattern as the engine tests): TAEF2 from ../shared/models as
/// the model-store mirror into a private cache, and a small balancer made here, nudged off the identity.
/// </summary>
public static class TestPack
{
    static readonly Lazy<string> Dir = new(Create);
    static readonly Lazy<string> Cache = new(() => TestPaths.TempDir("model-cache"));

    public static string Directory => Dir.Value;
    public static string CacheDir => Cache.Value;
    public static string MirrorDir => Path.Combine(TestPaths.Shared, "models");

    /// <summary>Environment for a daemon child process using this pack.</summary>
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
            { "name": "test", "vae": { "type": "tiny", "preset": "taef2", "encoder": "taef2/taef2_encoder.pth", "decoder": "taef2/taef2_decoder.pth" }, "balancer": "balancer" }
            """);
        manual_seed(7);
        using var net = new BalancerNet(new BalancerConfig { LatentChannels = 32, Width = 16, NumBlocks = 2, AttentionAfter = [1], AttentionHeads = 2, GlobalWidth = 16 });
        using (no_grad())
            foreach (var (name, p) in net.named_parameters())
                if (name.StartsWith("conv_out")) p.add_(randn_like(p) * 0.02);
        BalancerWeights.Save(net, Path.Combine(dir, "balancer"));
        return dir;
    }
}
