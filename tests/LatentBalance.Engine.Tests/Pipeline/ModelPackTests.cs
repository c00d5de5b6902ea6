using System.Text.Json.Nodes;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Pipeline;

namespace LatentBalance.Engine.Tests.Pipeline;

/// <summary>What a pack's balancer.json says about the latents it was trained on is read and held to
/// (issue 12: <c>tile_size</c> and <c>vae</c> were written by training and read by nothing).</summary>
public class ModelPackTests
{
    /// <summary>A copy of the test pack with balancer.json edited.</summary>
    static string PackWith(string name, Action<JsonObject> edit)
    {
        var dir = TestPaths.TempDir("pack-" + name);
        foreach (var file in Directory.GetFiles(TestPack.Directory, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(dir, Path.GetRelativePath(TestPack.Directory, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to, overwrite: true);
        }
        var config = Path.Combine(dir, "balancer", "balancer.json");
        var json = JsonNode.Parse(File.ReadAllText(config))!.AsObject();
        edit(json);
        File.WriteAllText(config, json.ToJsonString());
        return dir;
    }

    [Fact]
    public void TheEngineMakesTilesOfTheSizeTheBalancerWasTrainedOn()
    {
        using var store = TestPack.Store();
        using var engine = BalanceEngine.Load(PackWith("tile256", j => j["tile_size"] = 256), "cpu", store);
        Assert.Equal(256, engine.TileOptions.Size);
        var input = Directory.GetFiles(Path.Combine(TestPaths.Photos, "debian-skimage-data"), "coffee*").First();
        var output = Path.Combine(TestPaths.TempDir("tile256-out"), "coffee.png");
        var result = engine.BalanceFile(input, output, new BalanceOptions());
        Assert.True(File.Exists(output));
        Assert.True(double.IsFinite(result.TileDeltaE));
        using var defaultEngine = BalanceEngine.Load(TestPack.Directory, "cpu", store);
        Assert.Equal(224, defaultEngine.TileOptions.Size);
    }

    [Fact]
    public void ABalancerTrainedOnAnotherVaesLatentsIsRefusedNamingItsConfig()
    {
        using var store = TestPack.Store();
        var pack = PackWith("taesd", j => j["vae"] = "taesd");
        var e = Assert.Throws<ModelFileException>(() => BalanceEngine.Load(pack, "cpu", store));
        Assert.Contains(Path.Combine(pack, "balancer", "balancer.json"), e.Message);
        Assert.Contains("'taesd'", e.Message);
        Assert.Contains("'taef2'", e.Message);
        // "custom" is not checked (a balancer for a VAE without a preset name)
        using var custom = BalanceEngine.Load(PackWith("custom", j => j["vae"] = "custom"), "cpu", store);
        Assert.Equal("taef2", custom.Vae.Name);
    }

    [Theory]
    [InlineData(100)]
    [InlineData(32)]
    [InlineData(2048)]
    public void ATileSizeTheVaeCannotTakeIsRefused(int size)
    {
        var pack = PackWith("bad-tile-" + size, j => j["tile_size"] = size);
        var e = Assert.ThrowsAny<Exception>(() => ModelPack.Open(pack).LoadBalancer(TorchSharp.torch.CPU));
        Assert.Contains("tile_size", e.Message);
        Assert.Contains("balancer.json", e.Message);
    }
}
