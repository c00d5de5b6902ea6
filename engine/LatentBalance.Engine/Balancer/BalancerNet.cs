using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LatentBalance.Engine.Balancer;

/// <summary>
/// The balancer: a fully convolutional network on VAE latents that predicts a Gaussian over the
/// balanced latent (mean and log-variance per element). Residual blocks with instance norm; a
/// colour cast lives largely in the per-channel latent statistics that instance norm removes, so a
/// small global branch reads those statistics from the input latent and modulates every block
/// (scale and shift after each norm). Self-attention blocks give every position the whole frame.
/// Optional pointwise head blocks at full latent resolution (also modulated) follow the trunk;
/// optionally (<c>trunk_global</c>) their modulation also comes from the trunk's output averaged
/// over the frame, and the global branch can read per-channel quantiles beside mean and std.
/// The mean is predicted as a residual on the input latent, and the output convolution starts at
/// zero, so an untrained balancer is the identity.
/// </summary>
public sealed class BalancerNet : nn.Module<Tensor, (Tensor Mean, Tensor LogVar)>
{
    public BalancerConfig Config { get; }

    readonly Conv2d conv_in;
    readonly Conv2d? down, up;
    readonly ModuleList<ResBlock> blocks;
    readonly ModuleList<PointBlock> head;
    readonly ModuleDict<AttentionBlock> attention;
    readonly Sequential global_mlp;
    readonly Linear? trunk_global;
    readonly InstanceNorm2d norm_out;
    readonly Conv2d conv_out;
    readonly StrengthHead? strength;

    public BalancerNet(BalancerConfig config) : base("BalancerNet")
    {
        config.Validate();
        Config = config;
        int c = config.LatentChannels, w = config.Width;
        conv_in = nn.Conv2d(c, w, 3, padding: 1);
        if (config.Downsample)
        {
            down = nn.Conv2d(w, w, 3, stride: 2, padding: 1);
            up = nn.Conv2d(w, w, 3, padding: 1);
        }
        blocks = new ModuleList<ResBlock>();
        for (int i = 0; i < config.NumBlocks; i++) blocks.Add(new ResBlock(w));
        head = new ModuleList<PointBlock>();
        for (int i = 0; i < config.HeadBlocks; i++) head.Add(new PointBlock(w, w * config.HeadExpansion));
        attention = new ModuleDict<AttentionBlock>();
        foreach (var i in config.AttentionAfter.Distinct().Order())
            attention.Add(i.ToString(), new AttentionBlock(w, config.AttentionHeads));
        // global statistics (mean, std and quantiles per latent channel) -> scale and shift for each block's two norms and each head block
        global_mlp = nn.Sequential(
            nn.Linear((2 + config.GlobalQuantiles.Length) * c, config.GlobalWidth),
            nn.SiLU(),
            nn.Linear(config.GlobalWidth, config.NumBlocks * 4 * w + config.HeadBlocks * 2 * w * config.HeadExpansion));
        if (config.TrunkGlobal) trunk_global = nn.Linear(w, config.HeadBlocks * 2 * w * config.HeadExpansion);
        norm_out = nn.InstanceNorm2d(w, affine: true);
        conv_out = nn.Conv2d(w, 2 * c, 3, padding: 1);
        if (config.StrengthHead > 0) strength = new StrengthHead(c, config.StrengthHead, config.StrengthMax, config.StrengthColorStats);
        RegisterComponents();
        using (no_grad())
        {
            conv_out.weight!.zero_();
            conv_out.bias!.zero_();
            var last = (Linear)global_mlp[2];
            last.weight!.mul_(HeldScalars.Of(0.1));
            last.bias!.zero_();
            trunk_global?.weight!.zero_();
            trunk_global?.bias!.zero_();
        }
    }

    /// <summary>A balancer folder holds <c>balancer.json</c> (its <see cref="BalancerConfig"/>) and
    /// <c>balancer.safetensors</c> (float32 weights, state-dict names) side by side.</summary>
    public const string WeightsFile = "balancer.safetensors", ConfigFile = "balancer.json";

    /// <summary>Loads a balancer folder strictly (<see cref="Pretrained"/>), in eval mode.</summary>
    public static BalancerNet Load(string folder) =>
        Pretrained.Build(() => new BalancerNet(Pretrained.ReadConfig<BalancerConfig>(Path.Combine(folder, ConfigFile))), net =>
        {
            Pretrained.LoadInto(net, Path.Combine(folder, WeightsFile));
            net.eval();
        });

    /// <summary>Writes the folder <see cref="Load"/> reads.</summary>
    public void Save(string folder, IReadOnlyDictionary<string, string>? metadata = null)
    {
        Directory.CreateDirectory(folder);
        var tensors = state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().to(float32));
        SafeTensors.Write(Path.Combine(folder, WeightsFile), tensors, metadata);
        foreach (var t in tensors.Values) t.Dispose();
        Pretrained.WriteConfig(Config, Path.Combine(folder, ConfigFile));
    }

    /// <summary>Copies every parameter and buffer of <paramref name="from"/> that this net has with the same
    /// name and shape (e.g. a trained balancer into the same shape with a new head).</summary>
    public void CopyMatchingFrom(BalancerNet from)
    {
        var src = from.state_dict();
        using var _ = no_grad();
        foreach (var (k, t) in state_dict())
            if (src.TryGetValue(k, out var s) && s.shape.SequenceEqual(t.shape)) t.copy_(s);
    }

    public override (Tensor Mean, Tensor LogVar) forward(Tensor z)
    {
        using var scope = NewDisposeScope();
        int w = Config.Width;
        var g = global_mlp.forward(GlobalStatistics(z));
        int trunkMod = Config.NumBlocks * 4 * w, hw = w * Config.HeadExpansion;
        var mod = g[.., ..trunkMod].view(z.shape[0], Config.NumBlocks, 4, w, 1, 1);
        var headMod = Config.HeadBlocks > 0 ? g[.., trunkMod..].view(z.shape[0], Config.HeadBlocks, 2, hw, 1, 1) : null;
        var h0 = conv_in.forward(z);
        var h = down is null ? h0 : down.forward(F.silu(h0));
        for (int i = 0; i < blocks.Count; i++)
        {
            h = blocks[i].forward(h, mod[.., i]);
            if (attention.TryGetValue(i.ToString(), out var att)) h = att.forward(h);
        }
        if (up is not null)
            h = h0.Plus(up.forward(F.interpolate(h, [z.shape[2], z.shape[3]], mode: InterpolationMode.Nearest)));
        if (trunk_global is not null)
            headMod = headMod!.Plus(trunk_global.forward(h.mean([2, 3])).view(z.shape[0], Config.HeadBlocks, 2, hw, 1, 1));
        for (int i = 0; i < head.Count; i++) h = head[i].forward(h, headMod![.., i]);
        var o = conv_out.forward(F.silu(norm_out.forward(h)));
        var chunks = o.chunk(2, 1);
        var mean = z.Plus(chunks[0]);
        var logVar = chunks[1].ClampTo(Config.LogVarMin, Config.LogVarMax);
        return (mean.MoveToOuterDisposeScope(), logVar.MoveToOuterDisposeScope());
    }

    /// <summary>Per latent channel: mean, std and the configured quantiles over all positions, [N, (2 + Q) * C].</summary>
    Tensor GlobalStatistics(Tensor z)
    {
        var parts = new List<Tensor> { z.mean([2, 3]), z.std([2, 3], unbiased: false) };
        var levels = Config.GlobalQuantiles;
        if (levels.Length > 0)
        {
            var flat = z.flatten(2);
            long last = flat.shape[2] - 1;
            var sorted = flat.sort(-1).Values;
            var index = tensor(levels.Select(q => (long)Math.Round(q * last)).ToArray(), device: z.device);
            parts.Add(sorted.index_select(2, index).flatten(1));
        }
        return cat(parts, 1);
    }

    /// <summary>Balanced latent without gradients: the predicted mean, or with a strength head
    /// z + strength * (mean - z) at the strength the head predicts for each latent.</summary>
    public Tensor Balance(Tensor z) => BalanceWithStrength(z).Balanced;

    /// <summary><see cref="Balance"/> and the strength used per latent ([N]; ones without a head).</summary>
    public (Tensor Balanced, Tensor Strength) BalanceWithStrength(Tensor z)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var (mean, logVar) = forward(z);
        var s = strength is null ? ones(z.shape[0], device: z.device) : strength.forward(StrengthFeatures(z, mean)).Times(Config.StrengthScale);
        var balanced = strength is null ? mean : z.Plus(s.view(-1, 1, 1, 1) * (mean - z));
        return (balanced.MoveToOuterDisposeScope(), s.MoveToOuterDisposeScope());
    }

    /// <summary>The strength head's input for latents [N, C, h, w] and their predicted means: per
    /// channel the input's mean and std and the correction's mean and RMS, then (with
    /// <c>strength_color_stats</c>) the colour statistics of the input, [N, 4C (+ 23)].</summary>
    public Tensor StrengthFeatures(Tensor z, Tensor mean)
    {
        using var scope = NewDisposeScope();
        var d = mean - z;
        var parts = new List<Tensor> { z.mean([2, 3]), z.std([2, 3], unbiased: false), d.mean([2, 3]), d.Squared().mean([2, 3]).sqrt() };
        if (strength?.ColorStatistics(z) is { } colour) parts.Add(colour);
        return cat(parts, 1).MoveToOuterDisposeScope();
    }

    /// <summary>The strength head (null without one): what <c>train --stage strength</c> fits.</summary>
    public StrengthHead? Strength => strength;

    /// <summary>
    /// Calibrated strength: an MLP from <see cref="StrengthFeatures"/> (standardised by fixed
    /// buffers set from the training features) to strength_max * sigmoid(.). The last layer starts
    /// at zero, so an untrained head gives strength_max / 2 (1 with the default).
    /// </summary>
    public sealed class StrengthHead : nn.Module<Tensor, Tensor>
    {
        /// <summary>Colour statistics per photo (see <see cref="ColorStatistics"/>).</summary>
        public const int ColorStatCount = 23;
        const int ProbeKernel = 3;

        readonly Linear fc1, fc2, fc3;
        readonly Tensor feature_mean, feature_std;
        readonly Tensor? probe_weight, probe_bias;
        readonly float max;

        public StrengthHead(int latentChannels, int hidden, float max, bool colorStats) : base("StrengthHead")
        {
            this.max = max;
            int features = 4 * latentChannels + (colorStats ? ColorStatCount : 0);
            if (colorStats)
            {
                probe_weight = zeros(3, latentChannels, ProbeKernel, ProbeKernel);
                probe_bias = zeros(3);
            }
            fc1 = nn.Linear(features, hidden);
            fc2 = nn.Linear(hidden, hidden);
            fc3 = nn.Linear(hidden, 1);
            feature_mean = zeros(features);
            feature_std = ones(features);
            RegisterComponents();
            using (no_grad()) { fc3.weight!.zero_(); fc3.bias!.zero_(); }
        }

        /// <summary>Sets the colour read-out (weight [3, C, 3, 3], bias [3]) the colour statistics are taken over.</summary>
        public void SetColorReadout(Tensor weight, Tensor bias)
        {
            if (probe_weight is null || probe_bias is null) throw new InvalidOperationException("this strength head takes no colour statistics");
            using var _ = no_grad();
            probe_weight.copy_(weight);
            probe_bias.copy_(bias);
        }

        /// <summary>Colour statistics of latents [N, C, h, w] from the read-out colours at each
        /// position ([N, 23]; null without <c>strength_color_stats</c>): per channel mean, 10/50/90th
        /// percentile and max (15), mean and std of log(R/G) and log(B/G) (4), the share of
        /// near-neutral positions (1) and the grey-edge estimate, mean |gradient| per channel
        /// over its mean (3).</summary>
        public Tensor? ColorStatistics(Tensor z)
        {
            if (probe_weight is null || probe_bias is null) return null;
            using var scope = NewDisposeScope();
            var rgb = F.conv2d(z, probe_weight, probe_bias, padding: [ProbeKernel / 2, ProbeKernel / 2]).ClampTo(0L, 1L);
            var flat = rgb.flatten(2);                                      // [N, 3, P]
            var sorted = flat.sort(-1).Values;
            long last = flat.shape[2] - 1;
            var q = tensor(new[] { 0.1, 0.5, 0.9 }.Select(v => (long)Math.Round(v * last)).ToArray(), device: z.device);
            var u = (flat[.., 0].Plus(0.01) / flat[.., 1].Plus(0.01)).log();    // [N, P]
            var v = (flat[.., 2].Plus(0.01) / flat[.., 1].Plus(0.01)).log();
            var neutral = maximum(u.abs(), v.abs()).lt(HeldScalars.Of(0.05)).to(z.dtype).mean([1], keepdim: true);
            var gx = (rgb[.., .., .., 1..] - rgb[.., .., .., ..^1]).abs().mean([2, 3]);
            var gy = (rgb[.., .., 1.., ..] - rgb[.., .., ..^1, ..]).abs().mean([2, 3]);
            var edge = gx.Plus(gy);
            edge = edge / edge.mean([1], keepdim: true).AtLeast(1e-6);
            var stats = cat([flat.mean([2]), sorted.index_select(2, q).flatten(1), sorted[.., .., -1],
                stack([u.mean([1]), u.std([1]), v.mean([1]), v.std([1])], 1), neutral, edge], 1);
            return stats.MoveToOuterDisposeScope();
        }

        /// <summary>Sets the standardisation from features [N, F] of the training set.</summary>
        public void SetStandardisation(Tensor features)
        {
            using var _ = no_grad();
            feature_mean.copy_(features.mean([0]));
            feature_std.copy_(features.std([0]).AtLeast(1e-6));
        }

        /// <param name="features">[N, F].</param>
        /// <returns>[N] strengths in (0, max).</returns>
        public override Tensor forward(Tensor features)
        {
            var x = (features - feature_mean) / feature_std;
            var h = F.silu(fc2.forward(F.silu(fc1.forward(x))));
            return sigmoid(fc3.forward(h).squeeze(1)).Times(max);
        }
    }

    /// <summary>Residual block: norm, modulate, SiLU, conv, twice, plus the skip.</summary>
    sealed class ResBlock : nn.Module<Tensor, Tensor, Tensor>
    {
        readonly InstanceNorm2d norm1, norm2;
        readonly Conv2d conv1, conv2;

        public ResBlock(int w) : base("ResBlock")
        {
            norm1 = nn.InstanceNorm2d(w, affine: true);
            conv1 = nn.Conv2d(w, w, 3, padding: 1);
            norm2 = nn.InstanceNorm2d(w, affine: true);
            conv2 = nn.Conv2d(w, w, 3, padding: 1);
            RegisterComponents();
        }

        /// <param name="mod">[N, 4, W, 1, 1]: scale1, shift1, scale2, shift2.</param>
        public override Tensor forward(Tensor x, Tensor mod)
        {
            var h = (norm1.forward(x) * mod[.., 0].Plus(1L)).Plus(mod[.., 1]);
            h = conv1.forward(F.silu(h));
            h = (norm2.forward(h) * mod[.., 2].Plus(1L)).Plus(mod[.., 3]);
            h = conv2.forward(F.silu(h));
            return x.Plus(h);
        }
    }

    /// <summary>Pointwise residual block: 1x1 conv to a wider hidden layer, modulate, SiLU, 1x1 conv back.</summary>
    sealed class PointBlock : nn.Module<Tensor, Tensor, Tensor>
    {
        readonly Conv2d expand, project;

        public PointBlock(int w, int hidden) : base("PointBlock")
        {
            expand = nn.Conv2d(w, hidden, 1);
            project = nn.Conv2d(hidden, w, 1);
            RegisterComponents();
        }

        /// <param name="mod">[N, 2, hidden, 1, 1]: scale, shift.</param>
        public override Tensor forward(Tensor x, Tensor mod)
        {
            var h = (expand.forward(F.silu(x)) * mod[.., 0].Plus(1L)).Plus(mod[.., 1]);
            return x.Plus(project.forward(F.silu(h)));
        }
    }

    /// <summary>Multi-head self-attention over all latent positions, pre-norm, residual.</summary>
    sealed class AttentionBlock : nn.Module<Tensor, Tensor>
    {
        readonly GroupNorm norm;
        readonly Linear to_qkv, to_out;
        readonly int heads;

        public AttentionBlock(int w, int heads) : base("AttentionBlock")
        {
            this.heads = heads;
            norm = nn.GroupNorm(1, w);
            to_qkv = nn.Linear(w, 3 * w);
            to_out = nn.Linear(w, w);
            RegisterComponents();
            // TorchSharp 0.107 leaves GroupNorm's affine parameters uninitialised (garbage, often NaN)
            using (no_grad())
            {
                norm.weight!.fill_(HeldScalars.Of(1L));
                norm.bias!.zero_();
            }
        }

        public override Tensor forward(Tensor x)
        {
            long n = x.shape[0], c = x.shape[1], hh = x.shape[2], ww = x.shape[3], l = hh * ww, d = c / heads;
            var t = norm.forward(x).flatten(2).transpose(1, 2);                 // [N, L, C]
            var qkv = to_qkv.forward(t).view(n, l, 3, heads, d).permute(2, 0, 3, 1, 4); // [3, N, H, L, d]
            var att = F.softmax(matmul(qkv[0], qkv[1].transpose(-2, -1)).Over(Math.Sqrt(d)), -1);
            var o = matmul(att, qkv[2]).permute(0, 2, 1, 3).reshape(n, l, c);
            o = to_out.forward(o).transpose(1, 2).reshape(n, c, hh, ww);
            return x.Plus(o);
        }
    }
}
