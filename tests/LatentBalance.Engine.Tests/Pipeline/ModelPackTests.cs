using System.Text.Json.Nodes;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Onnx;

namespace LatentBalance.Engine.Tests.Pipeline;

/// <summary>What a pack's balancer.json says about the latents it was trained on is read and held to
/// (issue 12: <c>tile_size</c> and <c>vae</c> were written by training and read by nothing).</summary>
public class ModelPackTests
{
    /// <summary>A copy of the test pack with balancer.json edited.</summary>
    static string PackWith(string name, Action<JsonObject> edit) => PackWith(name, Path.Combine("balancer", "balancer.json"), edit);

    /// <summary>A copy of the test pack with one of its JSON files edited.</summary>
    static string PackWith(string name, string jsonFile, Action<JsonObject> edit)
    {
        var dir = TestPaths.TempDir("pack-" + name);
        foreach (var file in Directory.GetFiles(TestPack.Directory, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(dir, Path.GetRelativePath(TestPack.Directory, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to, overwrite: true);
        }
        var config = Path.Combine(dir, jsonFile);
        var json = JsonNode.Parse(File.ReadAllText(config))!.AsObject();
        edit(json);
        File.WriteAllText(config, json.ToJsonString());
        return dir;
    }

    [Fact]
    public void TheEngineMakesTilesOfTheSizeTheBalancerWasTrainedOn()
    {
        using var store = TestPack.Store();
        using var engine = EngineRuntime.Load(PackWith("tile256", j => j["tile_size"] = 256), EngineRuntime.Torch, "cpu", store);
        Assert.Equal(256, engine.TileOptions.Size);
        var input = Directory.GetFiles(Path.Combine(TestPaths.Photos, "debian-skimage-data"), "coffee*").First();
        var output = Path.Combine(TestPaths.TempDir("tile256-out"), "coffee.png");
        var result = engine.BalanceFile(input, output, new BalanceOptions());
        Assert.True(File.Exists(output));
        Assert.True(double.IsFinite(result.TileDeltaE));
        using var defaultEngine = EngineRuntime.Load(TestPack.Directory, EngineRuntime.Torch, "cpu", store);
        Assert.Equal(224, defaultEngine.TileOptions.Size);
    }

    [Fact]
    public void ABalancerTrainedOnAnotherVaesLatentsIsRefusedNamingItsConfig()
    {
        using var store = TestPack.Store();
        var pack = PackWith("taesd", j => j["vae"] = "taesd");
        var e = Assert.Throws<ModelFileException>(() => EngineRuntime.Load(pack, EngineRuntime.Torch, "cpu", store));
        Assert.Contains(Path.Combine(pack, "balancer", "balancer.json"), e.Message);
        Assert.Contains("'taesd'", e.Message);
        Assert.Contains("'taef2'", e.Message);
        // "custom" is not checked (a balancer for a VAE without a preset name)
        using var custom = EngineRuntime.Load(PackWith("custom", j => j["vae"] = "custom"), EngineRuntime.Torch, "cpu", store);
        Assert.Equal("taef2", custom.Networks.VaeName);
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

    [Fact]
    public void TheShippedPackHoldsTheCodeDefaultsAndEveryFieldIsRead()
    {
        var pack = ModelPack.Open(Path.Combine(TestPaths.RepoRoot, "models", "default"));
        Assert.Equal(("default", "taef2"), (pack.Manifest.Name, pack.VaeName));
        Assert.StartsWith("TAEF2", pack.Manifest.Description);
        // the correction it asks for is what the engine does without a pack's word
        Assert.Equal(new CorrectionSettings(), pack.Correction);
        Assert.Equal(LutBaker.DefaultSize, pack.Correction.LutSize);
        Assert.Equal(new ColorMapFitOptions(), pack.Correction.Fit);
    }

    [Fact]
    public void ThePacksCorrectionSettingsAreWhatABalanceUses()
    {
        // pack.json's correction is honoured, not only read: the .cube of a balance has the pack's LUT size,
        // and a fit of other settings gives another correction
        using var store = TestPack.Store();
        var input = Directory.GetFiles(Path.Combine(TestPaths.Photos, "debian-skimage-data"), "coffee*").First();
        var dir = TestPaths.TempDir("pack-correction-out");
        var small = PackWith("lut17", "pack.json", j => j["correction"] = new JsonObject { ["lut_size"] = 17, ["fit"] = new JsonObject { ["hidden"] = 8 } });
        using (var engine = EngineRuntime.Load(small, EngineRuntime.Torch, "cpu", store))
        {
            Assert.Equal((17, 8), (engine.Correction.LutSize, engine.Correction.Fit.Hidden));
            engine.BalanceFile(input, Path.Combine(dir, "small.jpg"), lut: Path.Combine(dir, "small.cube"));
        }
        using (var engine = EngineRuntime.Load(TestPack.Directory, EngineRuntime.Torch, "cpu", store))
            engine.BalanceFile(input, Path.Combine(dir, "default.jpg"), lut: Path.Combine(dir, "default.cube"));
        Assert.Equal(17, LatentBalance.Engine.Color.CubeFile.Read(Path.Combine(dir, "small.cube")).Size);
        Assert.Equal(33, LatentBalance.Engine.Color.CubeFile.Read(Path.Combine(dir, "default.cube")).Size);
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(dir, "small.jpg")), File.ReadAllBytes(Path.Combine(dir, "default.jpg")));
    }

    [Fact]
    public void CorrectionSettingsAreReadWithTheDefaultsForWhatIsLeftOut()
    {
        Assert.Equal(new CorrectionSettings(), ModelPack.Open(TestPack.Directory).Correction);   // the test pack says nothing
        var pack = ModelPack.Open(PackWith("correction", "pack.json", j => j["correction"] = JsonNode.Parse("""{"lut_size": 17, "fit": {"samples": 4000, "seed": 9}}""")));
        Assert.Equal(17, pack.Correction.LutSize);
        Assert.Equal(new ColorMapFitOptions { Samples = 4000, Seed = 9 }, pack.Correction.Fit);
    }

    [Theory]
    [InlineData("""{"lut_size": 1}""", "correction.lut_size must be 2..129")]
    [InlineData("""{"fit": {"hidden": 0}}""", "correction.fit.hidden")]
    [InlineData("""{"fit": {"ridge": -1}}""", "correction.fit.ridge")]
    [InlineData("""{"fit": {"scale": 0}}""", "correction.fit.scale")]
    [InlineData("""{"fit": {"samples": 8}}""", "correction.fit.samples")]
    // the Adam fit's settings are gone with it: an old pack.json that still names them is refused by name
    [InlineData("""{"fit": {"steps": 100}}""", "'steps'")]
    [InlineData("""{"fit": {"learning_rate": 0.01}}""", "'learning_rate'")]
    [InlineData("""{"fit": {"stpes": 10}}""", "'stpes'")]
    [InlineData("""{"lutSize": 17}""", "'lutSize'")]
    public void BadCorrectionSettingsAreRefusedNamingPackJson(string correction, string expected)
    {
        var pack = PackWith("bad-correction", "pack.json", j => j["correction"] = JsonNode.Parse(correction));
        var e = Assert.Throws<ModelFileException>(() => ModelPack.Open(pack));
        Assert.Contains(Path.Combine(pack, "pack.json"), e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ABalancerOfOtherLatentChannelsThanTheVaesIsRefusedByBothRuntimesWithOneMessage()
    {
        var e = Assert.Throws<ModelFileException>(() => ModelPack.CheckLatentChannels(new LatentBalance.Engine.Balancer.BalancerConfig { LatentChannels = 16 }, "taef2", 32));
        Assert.Equal("the balancer expects 16 latent channels but the VAE 'taef2' gives 32", e.Message);
        ModelPack.CheckLatentChannels(new LatentBalance.Engine.Balancer.BalancerConfig { LatentChannels = 32 }, "taef2", 32);
    }

    [Fact]
    public void APackJsonFieldThatIsNotReadIsRefused()
    {
        // "preset" named a hard-coded tiny-autoencoder shape; the shape is now the VAE's config file
        var pack = PackWith("preset", "pack.json", j => j["vae"]!["preset"] = "taef2");
        var e = Assert.Throws<ModelFileException>(() => ModelPack.Open(pack));
        Assert.Contains(Path.Combine(pack, "pack.json"), e.Message);
        Assert.Contains("'preset'", e.Message);

        pack = PackWith("no-config", "pack.json", j => j["vae"]!.AsObject().Remove("config"));
        e = Assert.Throws<ModelFileException>(() => ModelPack.Open(pack));
        Assert.Contains("names its config", e.Message);

        pack = PackWith("bad-vae-config", Path.Combine("vae", "config.json"), j => j["latent_chanels"] = 32);
        e = Assert.Throws<ModelFileException>(() => ModelPack.Open(pack));
        Assert.Contains(Path.Combine(pack, "vae", "config.json"), e.Message);
        Assert.Contains("'latent_chanels'", e.Message);
    }
}
