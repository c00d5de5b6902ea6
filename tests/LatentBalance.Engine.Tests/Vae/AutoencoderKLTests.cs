using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Vae;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LatentBalance.Engine.Tests.Vae;

public class AutoencoderKLTests
{
    static readonly AutoencoderKLConfig Small = new()
    {
        BlockOutChannels = [32, 64],
        LayersPerBlock = 1,
        NormNumGroups = 8,
        LatentChannels = 4,
        Name = "small-kl",
    };

    /// <summary>
    /// diffusers' AutoencoderKL state-dict names and shapes, spelled out independently of the engine
    /// (from diffusers' Encoder/Decoder/ResnetBlock2D/Attention/Downsample2D/Upsample2D layout).
    /// </summary>
    static Dictionary<string, long[]> DiffusersKeys(AutoencoderKLConfig c)
    {
        var d = new Dictionary<string, long[]>();
        void Conv(string n, long cin, long cout, long k) { d[n + ".weight"] = [cout, cin, k, k]; d[n + ".bias"] = [cout]; }
        void Norm(string n, long ch) { d[n + ".weight"] = [ch]; d[n + ".bias"] = [ch]; }
        void Lin(string n, long ch) { d[n + ".weight"] = [ch, ch]; d[n + ".bias"] = [ch]; }
        void Res(string n, long cin, long cout)
        {
            Norm(n + ".norm1", cin); Conv(n + ".conv1", cin, cout, 3); Norm(n + ".norm2", cout); Conv(n + ".conv2", cout, cout, 3);
            if (cin != cout) Conv(n + ".conv_shortcut", cin, cout, 1);
        }
        void Mid(string n, long ch)
        {
            Res(n + ".resnets.0", ch, ch); Res(n + ".resnets.1", ch, ch);
            Norm(n + ".attentions.0.group_norm", ch);
            Lin(n + ".attentions.0.to_q", ch); Lin(n + ".attentions.0.to_k", ch); Lin(n + ".attentions.0.to_v", ch); Lin(n + ".attentions.0.to_out.0", ch);
        }
        var b = c.BlockOutChannels;
        int L = c.LatentChannels;
        Conv("encoder.conv_in", c.InChannels, b[0], 3);
        long prev = b[0];
        for (int i = 0; i < b.Count; i++)
        {
            for (int j = 0; j < c.LayersPerBlock; j++) Res($"encoder.down_blocks.{i}.resnets.{j}", j == 0 ? prev : b[i], b[i]);
            if (i < b.Count - 1) Conv($"encoder.down_blocks.{i}.downsamplers.0.conv", b[i], b[i], 3);
            prev = b[i];
        }
        Mid("encoder.mid_block", b[^1]);
        Norm("encoder.conv_norm_out", b[^1]);
        Conv("encoder.conv_out", b[^1], 2 * L, 3);
        Conv("quant_conv", 2 * L, 2 * L, 1);
        Conv("post_quant_conv", L, L, 1);
        Conv("decoder.conv_in", L, b[^1], 3);
        Mid("decoder.mid_block", b[^1]);
        var rev = b.Reverse().ToArray();
        prev = rev[0];
        for (int i = 0; i < rev.Length; i++)
        {
            for (int j = 0; j <= c.LayersPerBlock; j++) Res($"decoder.up_blocks.{i}.resnets.{j}", j == 0 ? prev : rev[i], rev[i]);
            if (i < rev.Length - 1) Conv($"decoder.up_blocks.{i}.upsamplers.0.conv", rev[i], rev[i], 3);
            prev = rev[i];
        }
        Norm("decoder.conv_norm_out", b[0]);
        Conv("decoder.conv_out", b[0], c.OutChannels, 3);
        return d;
    }

    /// <summary>Random weights with realistic scales: norms near 1, convs ~ 1/sqrt(fan-in).</summary>
    static Dictionary<string, Tensor> RandomWeights(AutoencoderKLConfig c, long seed)
    {
        var g = new torch.Generator((ulong)seed);
        var w = new Dictionary<string, Tensor>();
        foreach (var (k, shape) in DiffusersKeys(c).OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            bool norm = k.Contains("norm") && !k.Contains("conv_");
            Tensor t;
            if (norm) t = k.EndsWith(".weight") ? 1 + 0.1 * torch.randn(shape, generator: g) : 0.1 * torch.randn(shape, generator: g);
            else if (k.EndsWith(".bias")) t = 0.05 * torch.randn(shape, generator: g);
            else t = torch.randn(shape, generator: g) / Math.Sqrt(shape.Skip(1).Aggregate(1L, (a, x) => a * x));
            w[k] = t;
        }
        return w;
    }

    static string WriteWeights(Dictionary<string, Tensor> w, string name = "vae")
    {
        var p = Path.Combine(TestPaths.TempDir(name), AutoencoderKL.WeightsFileName);
        SafeTensors.Write(p, w);
        return p;
    }

    static Tensor Image(long seed, int n = 2, int h = 16, int w = 24)
    {
        var g = new torch.Generator((ulong)seed);
        return torch.rand([n, 3, h, w], generator: g);
    }

    [Fact]
    public void EngineParameterNames_AreExactlyDiffusers()
    {
        foreach (var cfg in new[] { Small, AutoencoderKLConfig.StableDiffusion })
        {
            var expected = DiffusersKeys(cfg);
            var actual = AutoencoderKL.ExpectedParameters(cfg);
            Assert.Equal(expected.Keys.OrderBy(k => k, StringComparer.Ordinal), actual.Keys.OrderBy(k => k, StringComparer.Ordinal));
            foreach (var (k, s) in expected) Assert.True(s.SequenceEqual(actual[k]), k);
        }
        // The SD VAE has 248 tensors (83.65 M parameters).
        var sd = AutoencoderKL.ExpectedParameters(AutoencoderKLConfig.StableDiffusion);
        Assert.Equal(248, sd.Count);
        Assert.Equal(83_653_863L, sd.Values.Sum(s => s.Aggregate(1L, (a, x) => a * x)));
    }

    [Fact]
    public void LoadsStrictly_AndGivesTheRightShapes_Deterministically()
    {
        var w = RandomWeights(Small, 1);
        var path = WriteWeights(w);
        using var vae = AutoencoderKL.Load(path, Small);
        Assert.Equal(4, vae.LatentChannels);
        Assert.Equal(2, vae.DownscaleFactor);
        Assert.True(vae.IsProbabilistic);
        Assert.Equal("small-kl", vae.Name);

        using var img = Image(7);
        using var z1 = vae.Encode(img);
        using var z2 = vae.Encode(img);
        Assert.Equal(new long[] { 2, 4, 8, 12 }, z1.shape);
        Assert.True(z1.isfinite().all().item<bool>());
        Assert.True(z1.eq(z2).all().item<bool>(), "Encode must be deterministic");

        var (mean, logvar) = vae.EncodeDistribution(img);
        Assert.True(mean.allclose(z1, 0, 0));
        Assert.NotNull(logvar);
        Assert.Equal(mean.shape, logvar!.shape);
        double shift = 2 * Math.Log(Small.ScalingFactor);
        Assert.True(logvar.min().item<float>() >= AutoencoderKL.LogVarMin + shift - 1e-4);
        Assert.True(logvar.max().item<float>() <= AutoencoderKL.LogVarMax + shift + 1e-4);

        using var y = vae.Decode(z1);
        Assert.Equal(new long[] { 2, 3, 16, 24 }, y.shape);
        Assert.True(y.isfinite().all().item<bool>());
        foreach (var t in w.Values) t.Dispose();
    }

    [Fact]
    public void MatchesAnIndependentFunctionalForwardPass()
    {
        var w = RandomWeights(Small, 3);
        using var vae = AutoencoderKL.FromStateDict(w, Small with { ApplyScaling = false });
        using var img = Image(11, n: 1, h: 8, w: 10);

        using var refMoments = ReferenceMoments(w, Small, img * 2 - 1);
        var (mean, logvar) = vae.EncodeDistribution(img);
        var refMean = refMoments.narrow(1, 0, 4);
        var refLogvar = refMoments.narrow(1, 4, 4).clamp(-30, 20);
        Assert.True(RelErr(mean, refMean) < 1e-5, $"mean rel err {RelErr(mean, refMean)}");
        Assert.True(RelErr(logvar!, refLogvar) < 1e-5, $"logvar rel err {RelErr(logvar!, refLogvar)}");

        using var refImage = (ReferenceDecode(w, Small, refMean) + 1) / 2;
        using var decoded = vae.Decode(mean);
        Assert.True(RelErr(decoded, refImage) < 1e-5, $"decode rel err {RelErr(decoded, refImage)}");
    }

    static double RelErr(Tensor a, Tensor b) => (a - b).norm().item<float>() / (double)b.norm().item<float>();

    // ---- A plain functional forward from the state dict, written from diffusers' equations ----

    static Tensor Gn(Dictionary<string, Tensor> w, string n, Tensor x, int groups)
    {
        // GroupNorm by hand: statistics over (channels in group, H, W), biased variance, eps 1e-6.
        long b = x.shape[0], c = x.shape[1];
        var g = x.reshape(b, groups, -1);
        var mu = g.mean([2], keepdim: true);
        var v = (g - mu).pow(2).mean([2], keepdim: true);
        var normed = ((g - mu) / (v + 1e-6).sqrt()).reshape(x.shape);
        return normed * w[n + ".weight"].view(1, c, 1, 1) + w[n + ".bias"].view(1, c, 1, 1);
    }

    static Tensor Cv(Dictionary<string, Tensor> w, string n, Tensor x, long stride = 1, long pad = 1) =>
        F.conv2d(x, w[n + ".weight"], w[n + ".bias"], strides: [stride, stride], padding: [pad, pad]);

    static Tensor Silu(Tensor x) => x * torch.sigmoid(x);

    static Tensor Res(Dictionary<string, Tensor> w, string n, Tensor x, int groups)
    {
        var h = Cv(w, n + ".conv1", Silu(Gn(w, n + ".norm1", x, groups)));
        h = Cv(w, n + ".conv2", Silu(Gn(w, n + ".norm2", h, groups)));
        var skip = w.ContainsKey(n + ".conv_shortcut.weight") ? Cv(w, n + ".conv_shortcut", x, 1, 0) : x;
        return skip + h;
    }

    static Tensor Attn(Dictionary<string, Tensor> w, string n, Tensor x, int groups)
    {
        long b = x.shape[0], c = x.shape[1], hh = x.shape[2], ww = x.shape[3];
        var t = Gn(w, n + ".group_norm", x, groups).reshape(b, c, hh * ww).transpose(1, 2);
        Tensor Lin(string m, Tensor v) => v.matmul(w[n + "." + m + ".weight"].t()) + w[n + "." + m + ".bias"];
        var q = Lin("to_q", t);
        var k = Lin("to_k", t);
        var v = Lin("to_v", t);
        var a = torch.softmax(q.matmul(k.transpose(1, 2)) / Math.Sqrt(c), -1).matmul(v);
        return Lin("to_out.0", a).transpose(1, 2).reshape(b, c, hh, ww) + x;
    }

    static Tensor Mid(Dictionary<string, Tensor> w, string n, Tensor x, int g) =>
        Res(w, n + ".resnets.1", Attn(w, n + ".attentions.0", Res(w, n + ".resnets.0", x, g), g), g);

    static Tensor ReferenceMoments(Dictionary<string, Tensor> w, AutoencoderKLConfig c, Tensor x)
    {
        int g = c.NormNumGroups;
        var h = Cv(w, "encoder.conv_in", x);
        for (int i = 0; i < c.BlockOutChannels.Count; i++)
        {
            for (int j = 0; j < c.LayersPerBlock; j++) h = Res(w, $"encoder.down_blocks.{i}.resnets.{j}", h, g);
            if (i < c.BlockOutChannels.Count - 1)
            {
                // Pad one zero column on the right and one row at the bottom, then stride 2 without padding.
                var p = torch.zeros(h.shape[0], h.shape[1], h.shape[2] + 1, h.shape[3] + 1);
                p[.., .., ..(int)h.shape[2], ..(int)h.shape[3]] = h;
                h = Cv(w, $"encoder.down_blocks.{i}.downsamplers.0.conv", p, 2, 0);
            }
        }
        h = Mid(w, "encoder.mid_block", h, g);
        h = Cv(w, "encoder.conv_out", Silu(Gn(w, "encoder.conv_norm_out", h, g)));
        return Cv(w, "quant_conv", h, 1, 0);
    }

    static Tensor ReferenceDecode(Dictionary<string, Tensor> w, AutoencoderKLConfig c, Tensor z)
    {
        int g = c.NormNumGroups;
        var h = Cv(w, "decoder.conv_in", Cv(w, "post_quant_conv", z, 1, 0));
        h = Mid(w, "decoder.mid_block", h, g);
        int n = c.BlockOutChannels.Count;
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= c.LayersPerBlock; j++) h = Res(w, $"decoder.up_blocks.{i}.resnets.{j}", h, g);
            if (i < n - 1)
            {
                h = h.repeat_interleave(2, 2).repeat_interleave(2, 3); // nearest x2
                h = Cv(w, $"decoder.up_blocks.{i}.upsamplers.0.conv", h);
            }
        }
        return Cv(w, "decoder.conv_out", Silu(Gn(w, "decoder.conv_norm_out", h, g)));
    }

    // ---- hand-computed case and scaling ----

    [Fact]
    public void ZeroNetwork_WithBiasesOnly_GivesHandComputedLatentsAndImage()
    {
        // Every weight zero: each residual stream stays 0, so the moments equal quant_conv's bias and the
        // image equals decoder.conv_out's bias, mapped from [-1, 1] to [0, 1].
        var w = DiffusersKeys(Small).ToDictionary(kv => kv.Key, kv => torch.zeros(kv.Value));
        w["quant_conv.bias"] = torch.tensor(new[] { 1f, -2f, 0.5f, 3f, -40f, 0f, 25f, -1f });
        w["decoder.conv_out.bias"] = torch.tensor(new[] { -1f, 0f, 0.6f });
        var cfg = Small with { ScalingFactor = 0.5, ShiftFactor = 0.25 };
        using var vae = AutoencoderKL.FromStateDict(w, cfg);
        using var img = Image(5, n: 1, h: 4, w: 6);

        var (mean, logvar) = vae.EncodeDistribution(img);
        var m = mean.mean([0, 2, 3]).data<float>().ToArray();
        Assert.Equal(new[] { 0.375f, -1.125f, 0.125f, 1.375f }, m); // (b - 0.25) * 0.5
        var lv = logvar!.mean([0, 2, 3]).data<float>().ToArray();
        float l4 = (float)(2 * Math.Log(0.5));
        Assert.Equal(new[] { -30f + l4, 0f + l4, 20f + l4, -1f + l4 }, lv, new FloatNear(1e-5f)); // clamped to [-30, 20]
        Assert.Equal(0f, (mean - mean.mean([2, 3], keepdim: true)).abs().max().item<float>());

        using var y = vae.Decode(torch.randn(1, 4, 3, 5));
        Assert.Equal(new long[] { 1, 3, 6, 10 }, y.shape);
        Assert.Equal(new[] { 0f, 0.5f, 0.8f }, y.mean([0, 2, 3]).data<float>().ToArray(), new FloatNear(1e-6f));
    }

    sealed class FloatNear(float tol) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => Math.Abs(a - b) <= tol;
        public int GetHashCode(float f) => 0;
    }

    [Fact]
    public void Scaling_IsAppliedOnEncodeAndUndoneOnDecode()
    {
        var w = RandomWeights(Small, 4);
        using var raw = AutoencoderKL.FromStateDict(w, Small with { ApplyScaling = false });
        using var scaled = AutoencoderKL.FromStateDict(w, Small with { ShiftFactor = 0.1 });
        using var img = Image(9);
        using var zr = raw.Encode(img);
        using var zs = scaled.Encode(img);
        Assert.True(zs.allclose((zr - 0.1) * 0.18215, 1e-5, 1e-6));
        using var yr = raw.Decode(zr);
        using var ys = scaled.Decode(zs);
        Assert.True(ys.allclose(yr, 1e-4, 1e-5));
    }

    // ---- refusals ----

    [Fact]
    public void MissingKey_IsRefusedNamingFileAndKey()
    {
        var w = RandomWeights(Small, 2);
        w.Remove("encoder.mid_block.attentions.0.to_k.bias");
        var path = WriteWeights(w);
        var e = Assert.Throws<ModelFileException>(() => AutoencoderKL.Load(path, Small));
        Assert.Contains(path, e.Message);
        Assert.Contains("missing 1: encoder.mid_block.attentions.0.to_k.bias", e.Message);
    }

    [Fact]
    public void WrongShape_IsRefusedWithBothShapes()
    {
        var w = RandomWeights(Small, 2);
        w["decoder.conv_in.weight"] = torch.zeros(64, 4, 1, 1);
        var e = Assert.Throws<ModelFileException>(() => AutoencoderKL.Load(WriteWeights(w), Small));
        Assert.Contains("decoder.conv_in.weight (file [64,4,1,1], model [64,4,3,3])", e.Message);
    }

    [Fact]
    public void UnexpectedKey_AndWrongConfig_AreRefused()
    {
        var w = RandomWeights(Small, 2);
        w["encoder.extra.weight"] = torch.zeros(3);
        var e = Assert.Throws<ModelFileException>(() => AutoencoderKL.Load(WriteWeights(w), Small));
        Assert.Contains("unexpected 1: encoder.extra.weight", e.Message);

        // Loading the small weights as the full SD VAE lists the damage instead of crashing.
        w.Remove("encoder.extra.weight");
        var e2 = Assert.Throws<ModelFileException>(() => AutoencoderKL.Load(WriteWeights(w), AutoencoderKLConfig.StableDiffusion));
        Assert.Contains("missing ", e2.Message);
        Assert.Contains("shape mismatch", e2.Message);
    }

    [Fact]
    public void LegacyAttentionNames_LoadToTheSameModel()
    {
        var w = RandomWeights(Small, 6);
        var legacy = new Dictionary<string, Tensor>();
        foreach (var (k, t) in w)
        {
            var n = k.Replace(".to_q.", ".query.").Replace(".to_k.", ".key.").Replace(".to_v.", ".value.").Replace(".to_out.0.", ".proj_attn.");
            legacy[n] = n != k && t.dim() == 2 ? t.view(t.shape[0], t.shape[1], 1, 1) : t; // as 1x1 conv weights
        }
        Assert.Contains("encoder.mid_block.attentions.0.query.weight", legacy.Keys);
        using var a = AutoencoderKL.FromStateDict(w, Small);
        using var b = AutoencoderKL.Load(WriteWeights(legacy, "legacy"), Small);
        using var img = Image(3);
        Assert.True(a.Encode(img).eq(b.Encode(img)).all().item<bool>());
    }

    [Fact]
    public void BadInputs_AreArgumentErrors()
    {
        using var vae = AutoencoderKL.FromStateDict(RandomWeights(Small, 1), Small);
        Assert.Contains("multiple of 2", Assert.Throws<ArgumentException>(() => vae.Encode(torch.rand(1, 3, 5, 6))).Message);
        Assert.Contains("[N, 3, H, W]", Assert.Throws<ArgumentException>(() => vae.Encode(torch.rand(1, 4, 6, 6))).Message);
        Assert.Contains("[N, 4, h, w]", Assert.Throws<ArgumentException>(() => vae.Decode(torch.rand(1, 3, 6, 6))).Message);
    }

    // ---- config.json ----

    const string SdVaeConfigJson = """
    {
      "_class_name": "AutoencoderKL",
      "_diffusers_version": "0.4.2",
      "act_fn": "silu",
      "block_out_channels": [128, 256, 512, 512],
      "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
      "in_channels": 3,
      "latent_channels": 4,
      "layers_per_block": 2,
      "norm_num_groups": 32,
      "out_channels": 3,
      "sample_size": 256,
      "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]
    }
    """;

    [Fact]
    public void Config_FromDiffusersJson()
    {
        var c = Pretrained.ParseConfig<AutoencoderKLConfig>(SdVaeConfigJson, "config.json");
        Assert.Equal(new[] { 128, 256, 512, 512 }, c.BlockOutChannels);
        Assert.Equal(2, c.LayersPerBlock);
        Assert.Equal(32, c.NormNumGroups);
        Assert.Equal(4, c.LatentChannels);
        Assert.Equal(0.18215, c.ScalingFactor);
        Assert.Null(c.ShiftFactor);
        Assert.Equal(8, c.DownscaleFactor);

        var flux = Pretrained.ParseConfig<AutoencoderKLConfig>("""{"latent_channels": 16, "scaling_factor": 0.3611, "shift_factor": 0.1159, "use_quant_conv": false, "use_post_quant_conv": false}""", "flux/config.json");
        Assert.Equal(16, flux.LatentChannels);
        Assert.Equal(0.1159, flux.ShiftFactor);
        Assert.False(flux.UseQuantConv);
        Assert.DoesNotContain(AutoencoderKL.ExpectedParameters(flux).Keys, k => k.StartsWith("quant_conv"));
    }

    [Theory]
    [InlineData("""{"act_fn": "relu"}""", "act_fn")]
    [InlineData("""{"_class_name": "AutoencoderTiny"}""", "AutoencoderTiny")]
    [InlineData("""{"block_out_channels": [32, 48], "norm_num_groups": 32}""", "multiple of norm_num_groups")]
    [InlineData("""{"down_block_types": ["DownEncoderBlock2D"]}""", "has 1 entries")]
    [InlineData("""{"layers_per_block": "two"}""", "layers_per_block")]
    [InlineData("""[1]""", "invalid config")]
    [InlineData("""{"latent_channel": 4}""", "'latent_channel' could not be mapped")]
    public void Config_BadJson_IsRefused(string json, string expect)
    {
        var e = Assert.Throws<ModelFileException>(() => Pretrained.ParseConfig<AutoencoderKLConfig>(json, "vae/config.json"));
        Assert.Contains("vae/config.json", e.Message);
        Assert.Contains(expect, e.Message);
    }

    [Fact]
    public void LoadDirectory_ReadsConfigAndWeights_FromVaeSubfolder()
    {
        var root = TestPaths.TempDir("vae-dir");
        var vaeDir = Path.Combine(root, "vae");
        Directory.CreateDirectory(vaeDir);
        File.WriteAllText(Path.Combine(vaeDir, AutoencoderKL.ConfigFileName),
            """{"_class_name": "AutoencoderKL", "block_out_channels": [32, 64], "layers_per_block": 1, "norm_num_groups": 8, "latent_channels": 4}""");
        SafeTensors.Write(Path.Combine(vaeDir, AutoencoderKL.WeightsFileName), RandomWeights(Small, 8));
        using var vae = AutoencoderKL.LoadDirectory(root);
        Assert.Equal(new[] { 32, 64 }, vae.Config.BlockOutChannels);
        using var z = vae.Encode(Image(1, 1, 8, 8));
        Assert.Equal(new long[] { 1, 4, 4, 4 }, z.shape);

        var e = Assert.Throws<ModelFileException>(() => AutoencoderKL.LoadDirectory(TestPaths.TempDir("vae-empty")));
        Assert.Contains("config.json", e.Message);
    }
}
