using LatentBalance.Engine.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace LatentBalance.Engine.Vae;

/// <summary>
/// The layers of a diffusers AutoencoderKL. TorchSharp names sub-modules after the fields that hold
/// them, so every module field carries diffusers' attribute name and <c>state_dict()</c> keys are
/// exactly diffusers' (e.g. <c>encoder.down_blocks.1.resnets.0.conv_shortcut.weight</c>). No other
/// module-typed fields may exist here.
/// </summary>
internal static class AutoencoderKLBlocks
{
    static GroupNorm Norm(int groups, int channels, double eps) => GroupNorm(groups, channels, eps, affine: true);

    static Conv2d Conv3(int cin, int cout, int stride = 1, int padding = 1) =>
        Conv2d(cin, cout, kernel_size: 3, stride: stride, padding: padding, bias: true);

    /// <summary>GroupNorm, SiLU, conv3x3, GroupNorm, SiLU, conv3x3, plus a (1x1 conv when the width changes) skip.</summary>
    internal sealed class ResnetBlock2D : Module<Tensor, Tensor>
    {
        readonly GroupNorm norm1, norm2;
        readonly Conv2d conv1, conv2;
        readonly Conv2d? conv_shortcut;

        public ResnetBlock2D(int cin, int cout, int groups, double eps) : base(nameof(ResnetBlock2D))
        {
            norm1 = Norm(groups, cin, eps);
            conv1 = Conv3(cin, cout);
            norm2 = Norm(groups, cout, eps);
            conv2 = Conv3(cout, cout);
            if (cin != cout) conv_shortcut = Conv2d(cin, cout, kernel_size: 1, bias: true);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var h = conv1.call(F.silu(norm1.call(x)));
            h = conv2.call(F.silu(norm2.call(h)));
            var skip = conv_shortcut is null ? x : conv_shortcut.call(x);
            return skip.Plus(h).MoveToOuterDisposeScope();
        }
    }

    /// <summary>Single-head self-attention over all pixels (diffusers' converted "attention block"): GroupNorm, linear q/k/v, linear out, residual.</summary>
    internal sealed class SpatialAttention : Module<Tensor, Tensor>
    {
        readonly GroupNorm group_norm;
        readonly Linear to_q, to_k, to_v;
        readonly ModuleList<Linear> to_out;

        public SpatialAttention(int channels, int groups, double eps) : base(nameof(SpatialAttention))
        {
            group_norm = Norm(groups, channels, eps);
            to_q = Linear(channels, channels, hasBias: true);
            to_k = Linear(channels, channels, hasBias: true);
            to_v = Linear(channels, channels, hasBias: true);
            to_out = ModuleList(Linear(channels, channels, hasBias: true)); // diffusers: to_out.0 linear, to_out.1 dropout
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            long b = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
            var tokens = group_norm.call(x).reshape(b, c, h * w).transpose(1, 2); // [b, hw, c]
            var q = to_q.call(tokens).unsqueeze(1);                             // one head: [b, 1, hw, c]
            var k = to_k.call(tokens).unsqueeze(1);
            var v = to_v.call(tokens).unsqueeze(1);
            var a = F.scaled_dot_product_attention(q, k, v).squeeze(1);        // softmax(q k^T / sqrt(c)) v
            var o = to_out[0].call(a).transpose(1, 2).reshape(b, c, h, w);
            return o.Plus(x).MoveToOuterDisposeScope();
        }
    }

    /// <summary>Zero pad right and bottom by one, then a stride-2 3x3 conv without padding (key <c>conv</c>).</summary>
    internal sealed class Downsample2D : Module<Tensor, Tensor>
    {
        readonly Conv2d conv;

        public Downsample2D(int channels) : base(nameof(Downsample2D))
        {
            conv = Conv3(channels, channels, stride: 2, padding: 0);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var padded = F.pad(x, [0, 1, 0, 1], PaddingModes.Constant, 0);
            return conv.call(padded);
        }
    }

    /// <summary>Nearest-neighbour x2, then a 3x3 conv (key <c>conv</c>).</summary>
    internal sealed class Upsample2D : Module<Tensor, Tensor>
    {
        readonly Conv2d conv;

        public Upsample2D(int channels) : base(nameof(Upsample2D))
        {
            conv = Conv3(channels, channels);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var up = F.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
            return conv.call(up);
        }
    }

    /// <summary>Resnet blocks then an optional resampler (<c>downsamplers.0</c> or <c>upsamplers.0</c>).</summary>
    internal sealed class ResampleBlock : Module<Tensor, Tensor>
    {
        readonly ModuleList<ResnetBlock2D> resnets;
        readonly ModuleList<Downsample2D>? downsamplers;
        readonly ModuleList<Upsample2D>? upsamplers;

        public ResampleBlock(int cin, int cout, int layers, int groups, double eps, bool down, bool resample) : base(down ? "DownEncoderBlock2D" : "UpDecoderBlock2D")
        {
            resnets = ModuleList<ResnetBlock2D>();
            for (int j = 0; j < layers; j++) resnets.Add(new ResnetBlock2D(j == 0 ? cin : cout, cout, groups, eps));
            if (resample && down) downsamplers = ModuleList(new Downsample2D(cout));
            if (resample && !down) upsamplers = ModuleList(new Upsample2D(cout));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            foreach (var r in resnets) x = r.call(x);
            if (downsamplers is not null) x = downsamplers[0].call(x);
            if (upsamplers is not null) x = upsamplers[0].call(x);
            return x.MoveToOuterDisposeScope();
        }
    }

    /// <summary>resnets.0, attentions.0 (optional), resnets.1.</summary>
    internal sealed class MidBlock : Module<Tensor, Tensor>
    {
        readonly ModuleList<ResnetBlock2D> resnets;
        readonly ModuleList<SpatialAttention>? attentions;

        public MidBlock(int channels, int groups, double eps, bool attention) : base("UNetMidBlock2D")
        {
            resnets = ModuleList(new ResnetBlock2D(channels, channels, groups, eps), new ResnetBlock2D(channels, channels, groups, eps));
            if (attention) attentions = ModuleList(new SpatialAttention(channels, groups, eps));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            x = resnets[0].call(x);
            if (attentions is not null) x = attentions[0].call(x);
            x = resnets[1].call(x);
            return x.MoveToOuterDisposeScope();
        }
    }

    internal sealed class Encoder : Module<Tensor, Tensor>
    {
        readonly Conv2d conv_in, conv_out;
        readonly ModuleList<ResampleBlock> down_blocks;
        readonly MidBlock mid_block;
        readonly GroupNorm conv_norm_out;

        public Encoder(AutoencoderKLConfig c) : base("Encoder")
        {
            var boc = c.BlockOutChannels;
            conv_in = Conv3(c.InChannels, boc[0]);
            down_blocks = ModuleList<ResampleBlock>();
            int cout = boc[0];
            for (int i = 0; i < boc.Count; i++)
            {
                int cin = cout;
                cout = boc[i];
                down_blocks.Add(new ResampleBlock(cin, cout, c.LayersPerBlock, c.NormNumGroups, c.NormEps, down: true, resample: i < boc.Count - 1));
            }
            mid_block = new MidBlock(boc[^1], c.NormNumGroups, c.NormEps, c.MidBlockAddAttention);
            conv_norm_out = Norm(c.NormNumGroups, boc[^1], c.NormEps);
            conv_out = Conv3(boc[^1], 2 * c.LatentChannels);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            x = conv_in.call(x);
            foreach (var b in down_blocks) x = b.call(x);
            x = mid_block.call(x);
            x = conv_out.call(F.silu(conv_norm_out.call(x)));
            return x.MoveToOuterDisposeScope();
        }
    }

    internal sealed class Decoder : Module<Tensor, Tensor>
    {
        readonly Conv2d conv_in, conv_out;
        readonly MidBlock mid_block;
        readonly ModuleList<ResampleBlock> up_blocks;
        readonly GroupNorm conv_norm_out;

        public Decoder(AutoencoderKLConfig c) : base("Decoder")
        {
            var rev = c.BlockOutChannels.Reverse().ToArray();
            conv_in = Conv3(c.LatentChannels, rev[0]);
            mid_block = new MidBlock(rev[0], c.NormNumGroups, c.NormEps, c.MidBlockAddAttention);
            up_blocks = ModuleList<ResampleBlock>();
            int cout = rev[0];
            for (int i = 0; i < rev.Length; i++)
            {
                int cin = cout;
                cout = rev[i];
                up_blocks.Add(new ResampleBlock(cin, cout, c.LayersPerBlock + 1, c.NormNumGroups, c.NormEps, down: false, resample: i < rev.Length - 1));
            }
            conv_norm_out = Norm(c.NormNumGroups, rev[^1], c.NormEps);
            conv_out = Conv3(rev[^1], c.OutChannels);
            RegisterComponents();
        }

        public override Tensor forward(Tensor z)
        {
            using var scope = NewDisposeScope();
            var x = conv_in.call(z);
            x = mid_block.call(x);
            foreach (var b in up_blocks) x = b.call(x);
            x = conv_out.call(F.silu(conv_norm_out.call(x)));
            return x.MoveToOuterDisposeScope();
        }
    }

    /// <summary>The whole network: encoder, quant_conv, post_quant_conv, decoder. Forward is not used; see the two halves.</summary>
    internal sealed class Net : Module<Tensor, Tensor>
    {
        readonly Encoder encoder;
        readonly Decoder decoder;
        readonly Conv2d? quant_conv, post_quant_conv;

        public Net(AutoencoderKLConfig c) : base("AutoencoderKL")
        {
            encoder = new Encoder(c);
            decoder = new Decoder(c);
            if (c.UseQuantConv) quant_conv = Conv2d(2 * c.LatentChannels, 2 * c.LatentChannels, kernel_size: 1, bias: true);
            if (c.UsePostQuantConv) post_quant_conv = Conv2d(c.LatentChannels, c.LatentChannels, kernel_size: 1, bias: true);
            RegisterComponents();
        }

        /// <summary>Image in [-1, 1] to the 2*latent moments (mean, logvar).</summary>
        public Tensor Moments(Tensor x)
        {
            var h = encoder.call(x);
            if (quant_conv is null) return h;
            using (h) return quant_conv.call(h);
        }

        /// <summary>Raw (unscaled) latent to an image in about [-1, 1].</summary>
        public Tensor DecodeRaw(Tensor z)
        {
            if (post_quant_conv is null) return decoder.call(z);
            using var p = post_quant_conv.call(z);
            return decoder.call(p);
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var m = Moments(x);
            var mean = m.chunk(2, 1)[0];
            return DecodeRaw(mean).MoveToOuterDisposeScope();
        }
    }
}
