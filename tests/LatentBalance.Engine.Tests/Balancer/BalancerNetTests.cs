using LatentBalance.Engine.Balancer;
using LatentBalance.Engine.ModelFiles;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Tests.Balancer;

public class BalancerNetTests
{
    static readonly BalancerConfig Small = new() { LatentChannels = 8, Width = 16, NumBlocks = 2, AttentionAfter = [1], AttentionHeads = 2, GlobalWidth = 16 };
    /// <summary>The architectures a config can describe: "plain" (no head), "head" (pointwise head
    /// blocks), "global" (head blocks fed by channel quantiles and by the pooled trunk too).</summary>
    static BalancerConfig Shape(string name) => name switch
    {
        "plain" => Small,
        "head" => Small with { HeadBlocks = 2 },
        "global" => Small with { HeadBlocks = 2, GlobalQuantiles = [0.05f, 0.5f, 0.95f], TrunkGlobal = true },
        "strength" => Small with { HeadBlocks = 2, StrengthHead = 8 },
        "strength-colour" => Small with { HeadBlocks = 2, StrengthHead = 8, StrengthColorStats = true },
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [InlineData("plain")]
    [InlineData("head")]
    [InlineData("global")]
    [InlineData("strength")]
    [InlineData("strength-colour")]
    public void UntrainedBalancerIsTheIdentityAndPredictsAVariance(string shape)
    {
        manual_seed(1);
        using var net = new BalancerNet(Shape(shape));
        var z = randn(2, 8, 28, 28);
        var (mean, logVar) = net.forward(z);
        Assert.Equal(z.shape, mean.shape);
        Assert.Equal(z.shape, logVar.shape);
        Assert.True((mean - z).abs().max().item<float>() < 1e-6f);
        Assert.True(logVar.abs().max().item<float>() < 1e-6f);
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("head")]
    [InlineData("global")]
    public void OutputDependsOnTheGlobalColourStatisticsAfterTraining(string shape)
    {
        // after one optimiser step on "shift everything by +1", a shifted input gives a different correction
        manual_seed(2);
        using var net = new BalancerNet(Shape(shape));
        var opt = optim.Adam(net.parameters(), 1e-2);
        for (int i = 0; i < 30; i++)
        {
            opt.zero_grad();
            var x = randn(4, 8, 14, 14) + 1;
            var (m, lv) = net.forward(x);
            var loss = LatentBalance.Training.BalancerLoss.GaussianNll(m, lv, x - 1);
            loss.backward();
            opt.step();
        }
        net.eval();
        var probe = randn(1, 8, 14, 14) + 1;
        var corrected = net.Balance(probe);
        var shiftBefore = probe.mean().item<float>();
        var shiftAfter = corrected.mean().item<float>();
        Assert.True(Math.Abs(shiftAfter) < Math.Abs(shiftBefore) * 0.7, $"mean {shiftBefore} -> {shiftAfter}");
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("head")]
    [InlineData("global")]
    [InlineData("strength")]
    [InlineData("strength-colour")]
    public void SaveAndLoadGiveTheSameNetwork(string shape)
    {
        manual_seed(3);
        using var net = new BalancerNet(Shape(shape));
        using (no_grad()) foreach (var p in net.parameters()) p.add_(randn_like(p) * 0.05);
        var dir = TestPaths.TempDir("balancer");
        net.Save(dir);
        using var loaded = BalancerNet.Load(dir);
        Assert.Equal(Pretrained.ToJson(net.Config), Pretrained.ToJson(loaded.Config));
        net.eval();
        var z = randn(1, 8, 28, 28);
        var diff = (net.Balance(z) - loaded.Balance(z)).abs().max().item<float>();
        var sdA = net.state_dict(); var sdB = loaded.state_dict();
        var bad = sdA.Keys.Where(k => (sdA[k] - sdB[k]).abs().max().item<float>() > 0).ToList();
        Assert.True(diff < 1e-6f, $"max diff {diff}; differing tensors: {string.Join(", ", bad)}");
    }

    [Fact]
    public void WeightsOfAnotherShapeAreRefusedWithTheirNames()
    {
        using var net = new BalancerNet(Small);
        var dir = TestPaths.TempDir("balancer-bad");
        net.Save(dir);
        File.WriteAllText(Path.Combine(dir, BalancerNet.ConfigFile), Pretrained.ToJson(Small with { Width = 32 }));
        var e = Assert.Throws<ModelFileException>(() => BalancerNet.Load(dir));
        Assert.Contains(Path.Combine(dir, BalancerNet.WeightsFile), e.Message);
        Assert.Contains("shape mismatch", e.Message);
        Assert.Contains("conv_in.weight (file [16,8,3,3], model [32,8,3,3])", e.Message);
        // a field the config does not know is refused, naming the file
        File.WriteAllText(Path.Combine(dir, BalancerNet.ConfigFile), "{\"width\": 16, \"widht\": 16}");
        e = Assert.Throws<ModelFileException>(() => BalancerNet.Load(dir));
        Assert.Contains(Path.Combine(dir, BalancerNet.ConfigFile), e.Message);
        Assert.Contains("'widht'", e.Message);
    }

    [Fact]
    public void ConfigIsValidated()
    {
        Assert.Throws<ModelFileException>(() => Pretrained.ParseConfig<BalancerConfig>("{\"width\": 30, \"attention_heads\": 4}", "x.json"));
        Assert.Throws<ModelFileException>(() => Pretrained.ParseConfig<BalancerConfig>("{\"num_blocks\": 2, \"attention_after\": [5]}", "x.json"));
        Assert.Throws<ModelFileException>(() => Pretrained.ParseConfig<BalancerConfig>("{\"head_blocks\": -1}", "x.json"));
        Assert.Throws<ModelFileException>(() => Pretrained.ParseConfig<BalancerConfig>("{\"head_blocks\": 2, \"global_quantiles\": [0.5, 1.5]}", "x.json"));
        Assert.Throws<ModelFileException>(() => Pretrained.ParseConfig<BalancerConfig>("{\"head_blocks\": 0, \"trunk_global\": true}", "x.json"));
        Assert.Throws<ModelFileException>(() => Pretrained.ParseConfig<BalancerConfig>("{\"strength_head\": -1}", "x.json"));
        Assert.Throws<ModelFileException>(() => Pretrained.ParseConfig<BalancerConfig>("{\"strength_head\": 8, \"strength_max\": 0}", "x.json"));
        Assert.Throws<ModelFileException>(() => Pretrained.ParseConfig<BalancerConfig>("{\"strength_color_stats\": true}", "x.json"));
        // a config written before head blocks existed still reads, as the architecture it described
        var old = Pretrained.ParseConfig<BalancerConfig>("{\"width\": 64}", "x.json");
        Assert.Equal(0, old.HeadBlocks);
        Assert.Empty(old.GlobalQuantiles);
        Assert.False(old.TrunkGlobal);
        Assert.Equal(0, old.StrengthHead);
        var e = Assert.Throws<ModelFileException>(() => Pretrained.ParseConfig<BalancerConfig>("not json", "x.json"));
        Assert.Contains("x.json", e.Message);
    }

    [Fact]
    public void TheStrengthHeadScalesTheCorrectionPerLatent()
    {
        manual_seed(4);
        using var net = new BalancerNet(Shape("strength"));
        using (no_grad()) foreach (var (name, p) in net.named_parameters()) if (!name.StartsWith("strength.")) p.add_(randn_like(p) * 0.05);
        net.eval();
        var z = randn(3, 8, 28, 28);
        var (mean, _) = net.forward(z);
        // the head's standardisation is part of the weights file
        Assert.Contains("strength.feature_mean", net.state_dict().Keys);
        Assert.Contains("strength.feature_std", net.state_dict().Keys);
        // untrained head: strength_max * sigmoid(0) = 1, the balancer's own mean
        var (b1, s1) = net.BalanceWithStrength(z);
        Assert.Equal([1f, 1f, 1f], s1.data<float>().ToArray());
        Assert.True((b1 - mean).abs().max().item<float>() < 1e-6f);
        Assert.True((mean - z).abs().max().item<float>() > 1e-3f, "the perturbed balancer should correct something");
        // a head that says "leave it" (strength near 0) gives back the input; one that says 1.5 goes past the mean
        var head = net.Strength!;
        var bias = head.named_parameters().Single(p => p.name == "fc3.bias").parameter;
        using (no_grad()) bias.fill_(-20f);
        Assert.True((net.Balance(z) - z).abs().max().item<float>() < 1e-4f);
        using (no_grad()) bias.fill_((float)Math.Log(3));   // 2 * sigmoid(ln 3) = 1.5
        var (b15, s15) = net.BalanceWithStrength(z);
        Assert.All(s15.data<float>().ToArray(), v => Assert.Equal(1.5f, v, 4));
        Assert.True((b15 - (z + 1.5 * (mean - z))).abs().max().item<float>() < 1e-4f);
    }

    [Fact]
    public void AHeadIsAddedToATrainedBalancerWithoutChangingIt()
    {
        manual_seed(5);
        using var trained = new BalancerNet(Shape("head"));
        using (no_grad()) foreach (var p in trained.parameters()) p.add_(randn_like(p) * 0.05);
        using var withHead = new BalancerNet(trained.Config with { StrengthHead = 8 });
        withHead.CopyMatchingFrom(trained);
        trained.eval(); withHead.eval();
        var z = randn(2, 8, 28, 28);
        Assert.True((trained.Balance(z) - withHead.Balance(z)).abs().max().item<float>() < 1e-6f);
    }

    [Fact]
    public void ColourStatisticsFollowTheReadOutColours()
    {
        // a read-out that maps latent channel 0 to red, 1 to green, 2 to blue (centre tap only)
        using var net = new BalancerNet(Shape("strength-colour"));
        var w = zeros(3, 8, 3, 3);
        for (int c = 0; c < 3; c++) w[c, c, 1, 1] = tensor(1f);
        net.Strength!.SetColorReadout(w, zeros(3));
        var z = zeros(1, 8, 28, 28);
        z[0, 0] = full(28, 28, 0.8f); z[0, 1] = full(28, 28, 0.5f); z[0, 2] = full(28, 28, 0.2f);   // a flat warm frame
        var stats = net.Strength.ColorStatistics(z)!.data<float>().ToArray();
        Assert.Equal(BalancerNet.StrengthHead.ColorStatCount, stats.Length);
        Assert.Equal([0.8f, 0.5f, 0.2f], stats[..3].Select(v => MathF.Round(v, 4)));                     // channel means
        Assert.True(stats[15] > 0.4f && stats[17] < -0.8f, $"log(R/G) {stats[15]}, log(B/G) {stats[17]}"); // warm: R over G, B under G
        Assert.Equal(0f, stats[19]);                                                                       // nothing near neutral
        z[0, 0] = full(28, 28, 0.5f); z[0, 2] = full(28, 28, 0.5f);                                        // a flat grey frame
        Assert.Equal(1f, net.Strength.ColorStatistics(z)!.data<float>()[19]);
    }
}
