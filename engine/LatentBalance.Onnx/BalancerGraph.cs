using LatentBalance.Engine.Balancer;
using Onnx;
using static LatentBalance.Onnx.GraphBuilder;

namespace LatentBalance.Onnx;

/// <summary>
/// <c>BalancerNet.BalanceWithStrength</c> as an ONNX graph, shaped by its <see cref="BalancerConfig"/>, weights by the same
/// state-dict keys: latent [N, C, h, w] → balanced latent [N, C, h, w] (z + s (mean - z); the mean without a strength head)
/// and strength s [N] (ones without a head). The log-variance half of the output convolution is not computed.
/// </summary>
internal static class BalancerGraph
{
    public const string Input = "latent", Output = "balanced", Strength = "strength";

    public static ModelProto Build(BalancerConfig c, StateDict weights)
    {
        var g = new GraphBuilder("balancer", weights);
        int w = c.Width, hw = w * c.HeadExpansion, trunkMod = c.NumBlocks * 4 * w;
        var z = g.Input(Input, c.LatentChannels);

        // global branch: per channel mean, std and quantiles → scale and shift for every norm of the trunk and the head
        var (zMean, zStd) = (g.Reduce("ReduceMean", z, [2, 3]), g.Std(z, [2, 3], unbiased: false));
        string[] stats = c.GlobalQuantiles.Length == 0 ? [zMean, zStd]
            : [zMean, zStd, g.Quantiles(g.Node("Reshape", [z, g.Constant([0, 0, -1])]), g.Constant(c.GlobalQuantiles, c.GlobalQuantiles.Length))];
        var global = g.Linear(g.Silu(g.Linear(g.Node("Concat", stats, Int("axis", 1)), "global_mlp.0", (2 + c.GlobalQuantiles.Length) * c.LatentChannels, c.GlobalWidth)),
            "global_mlp.2", c.GlobalWidth, trunkMod + c.HeadBlocks * 2 * hw);

        var h0 = g.Conv(z, "conv_in", c.LatentChannels, w);
        var h = c.Downsample ? g.Conv(g.Silu(h0), "down", w, w, stride: 2) : h0;
        var attention = c.AttentionAfter.ToHashSet();
        for (int i = 0; i < c.NumBlocks; i++)
        {
            string Mod(int j) => g.Column(global, (i * 4 + j) * w, w);
            var r = g.Modulate(g.InstanceNorm(h, $"blocks.{i}.norm1", w), Mod(0), Mod(1));
            r = g.Modulate(g.InstanceNorm(g.Conv(g.Silu(r), $"blocks.{i}.conv1", w, w), $"blocks.{i}.norm2", w), Mod(2), Mod(3));
            h = g.Node("Add", [h, g.Conv(g.Silu(r), $"blocks.{i}.conv2", w, w)]);
            if (attention.Contains(i)) h = g.Attention(h, $"attention.{i}", w, c.AttentionHeads);
        }
        if (c.Downsample)
        {
            // nearest back to the latent's size, as F.interpolate
            var sizes = g.Node("Concat", [g.ShapeSlice(h, 0, 2), g.ShapeSlice(z, 2, 4)], Int("axis", 0));
            var up = g.Node("Resize", [h, "", "", sizes], String("mode", "nearest"), String("coordinate_transformation_mode", "asymmetric"), String("nearest_mode", "floor"));
            h = g.Node("Add", [h0, g.Conv(up, "up", w, w)]);
        }
        if (c.HeadBlocks > 0)
        {
            var headMod = g.Slice(global, 1, trunkMod, trunkMod + c.HeadBlocks * 2 * hw);
            if (c.TrunkGlobal) headMod = g.Node("Add", [headMod, g.Linear(g.Reduce("ReduceMean", h, [2, 3]), "trunk_global", w, c.HeadBlocks * 2 * hw)]);
            for (int i = 0; i < c.HeadBlocks; i++)
            {
                var e = g.Conv(g.Silu(h), $"head.{i}.expand", w, hw, kernel: 1);
                e = g.Modulate(e, g.Column(headMod, (i * 2) * hw, hw), g.Column(headMod, (i * 2 + 1) * hw, hw));
                h = g.Node("Add", [h, g.Conv(g.Silu(e), $"head.{i}.project", hw, w, kernel: 1)]);
            }
        }
        // the mean half of conv_out (its first C output channels), as a residual on the input
        int lc = c.LatentChannels;
        var outWeight = g.Slice(g.Weight("conv_out.weight", [2 * lc, w, 3, 3]), 0, 0, lc);
        var outBias = g.Slice(g.Weight("conv_out.bias", [2 * lc]), 0, 0, lc);
        var o = g.Node("Conv", [g.Silu(g.InstanceNorm(h, "norm_out", w)), outWeight, outBias], Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1));
        var mean = g.Node("Add", [z, o]);

        if (c.StrengthHead == 0)
        {
            g.Output(mean, Output, lc);
            g.Output(g.Node("Expand", [g.Constant([1f]), g.ShapeSlice(z, 0, 1)]), Strength, null);
            return g.Build();
        }
        var d = g.Node("Sub", [mean, z]);
        List<string> features = [zMean, zStd, g.Reduce("ReduceMean", d, [2, 3]), g.Node("Sqrt", [g.Reduce("ReduceMean", g.Node("Mul", [d, d]), [2, 3])])];
        if (c.StrengthColorStats) features.Add(g.ColorStatistics(z, lc));
        int count = 4 * lc + (c.StrengthColorStats ? BalancerNet.StrengthHead.ColorStatCount : 0);
        var x = g.Node("Div", [g.Node("Sub", [g.Node("Concat", [.. features], Int("axis", 1)), g.Weight("strength.feature_mean", [count])]), g.Weight("strength.feature_std", [count])]);
        x = g.Silu(g.Linear(g.Silu(g.Linear(x, "strength.fc1", count, c.StrengthHead)), "strength.fc2", c.StrengthHead, c.StrengthHead));
        var s = g.Node("Sigmoid", [g.Node("Squeeze", [g.Linear(x, "strength.fc3", c.StrengthHead, 1), g.Constant([1])])]);
        s = g.Node("Mul", [g.Node("Mul", [s, g.Constant([c.StrengthMax])]), g.Constant([c.StrengthScale])]);
        g.Output(g.Node("Add", [z, g.Node("Mul", [g.Node("Reshape", [s, g.Constant([-1, 1, 1, 1])]), d])]), Output, lc);
        g.Output(s, Strength, null);
        return g.Build();
    }

    /// <summary><c>StrengthHead.ColorStatistics</c>: the 23 colour statistics of the probe's read-out, [N, 23].</summary>
    static string ColorStatistics(this GraphBuilder g, string z, int channels)
    {
        var probe = g.Node("Conv", [z, g.Weight("strength.probe_weight", [3, channels, 3, 3]), g.Weight("strength.probe_bias", [3])],
            Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1));
        var rgb = g.Node("Clip", [probe, g.Constant([0f]), g.Constant([1f])]);
        var flat = g.Node("Reshape", [rgb, g.Constant([0, 0, -1])]);      // [N, 3, P]
        var channel = Enumerable.Range(0, 3).Select(i => g.Node("Add", [g.Slice(flat, 1, i, i + 1), g.Constant([0.01f])])).ToArray();
        var u = g.Node("Log", [g.Node("Div", [channel[0], channel[1]])]); // [N, 1, P]
        var v = g.Node("Log", [g.Node("Div", [channel[2], channel[1]])]);
        var near = g.Node("Less", [g.Node("Max", [g.Node("Abs", [u]), g.Node("Abs", [v])]), g.Constant([0.05f])]);
        var neutral = g.Reduce("ReduceMean", g.Node("Cast", [near], Int("to", (long)TensorProto.Types.DataType.Float)), [2]);
        string Gradient(int axis) =>
            g.Reduce("ReduceMean", g.Node("Abs", [g.Node("Sub", [g.Slice(rgb, axis, 1, long.MaxValue), g.Slice(rgb, axis, 0, -1)])]), [2, 3]);
        var edge = g.Node("Add", [Gradient(3), Gradient(2)]);
        edge = g.Node("Div", [edge, g.Node("Max", [g.Reduce("ReduceMean", edge, [1], keep: true), g.Constant([1e-6f])])]);
        return g.Node("Concat", [g.Reduce("ReduceMean", flat, [2]), g.Quantiles(flat, g.Constant([0.1, 0.5, 0.9])), g.Reduce("ReduceMax", flat, [2]),
            g.Reduce("ReduceMean", u, [2]), g.Std(u, [2], unbiased: true), g.Reduce("ReduceMean", v, [2]), g.Std(v, [2], unbiased: true), neutral, edge], Int("axis", 1));
    }

    /// <summary>Multi-head self-attention over all positions, pre-norm (GroupNorm(1, w)), residual; the linear layers as 1×1 convolutions.</summary>
    static string Attention(this GraphBuilder g, string x, string key, int w, int heads)
    {
        var qkv = g.PointLinear(g.GroupNorm(x, key + ".norm", w, 1), key + ".to_qkv", w, 3 * w);
        var split = g.Nodes("Split", 3, [g.Node("Reshape", [qkv, g.Constant([0, 3, heads, w / heads, -1])])], Int("axis", 1));
        var (q, k, v) = (g.Squeeze(split[0]), g.Squeeze(split[1]), g.Squeeze(split[2]));  // [N, H, d, L]
        var scores = g.Node("Div", [g.Node("MatMul", [g.Node("Transpose", [q], Ints("perm", 0, 1, 3, 2)), k]), g.Constant([(float)Math.Sqrt(w / heads)])]);
        var attention = g.Node("Softmax", [scores], Int("axis", -1));          // [N, H, L, L]
        var o = g.Node("MatMul", [v, g.Node("Transpose", [attention], Ints("perm", 0, 1, 3, 2))]); // [N, H, d, L]
        return g.Node("Add", [x, g.PointLinear(g.Node("Reshape", [o, g.Node("Shape", [x])]), key + ".to_out", w, w)]);
    }

    /// <summary>Per channel the values at round(level · (P - 1)) of the P positions sorted ascending, [N, C · levels]; the index
    /// arithmetic in the levels' type (float for global_quantiles, double for the colour statistics), as BalancerNet does it.</summary>
    static string Quantiles(this GraphBuilder g, string flat, string levels)
    {
        var count = g.ShapeSlice(flat, 2, 3);
        var sorted = g.Nodes("TopK", 2, [flat, count], Int("axis", -1), Int("largest", 0), Int("sorted", 1))[0];
        var last = g.Node("CastLike", [g.Node("Sub", [count, g.Constant([1L])]), levels]);
        var index = g.Node("Cast", [g.Node("Round", [g.Node("Mul", [levels, last])])], Int("to", (long)TensorProto.Types.DataType.Int64));
        return g.Node("Flatten", [g.Node("Gather", [sorted, index], Int("axis", 2))], Int("axis", 1));
    }

    static string Std(this GraphBuilder g, string x, long[] axes, bool unbiased)
    {
        var centred = g.Node("Sub", [x, g.Reduce("ReduceMean", x, axes, keep: true)]);
        if (!unbiased) return g.Node("Sqrt", [g.Reduce("ReduceMean", g.Node("Mul", [centred, centred]), axes)]);
        var shape = g.Node("Shape", [x]);
        var n = g.Node("ReduceProd", [g.Node("Gather", [shape, g.Constant(axes)])], Int("keepdims", 0));
        var dof = g.Node("Cast", [g.Node("Sub", [n, g.Constant([1L])])], Int("to", (long)TensorProto.Types.DataType.Float));
        return g.Node("Sqrt", [g.Node("Div", [g.Reduce("ReduceSumSquare", centred, axes), dof])]);
    }

    static string Reduce(this GraphBuilder g, string op, string x, long[] axes, bool keep = false) =>
        g.Node(op, [x], Ints("axes", axes), Int("keepdims", keep ? 1 : 0));


    /// <summary>nn.Linear on [N, in]: x Wᵀ + b.</summary>
    static string Linear(this GraphBuilder g, string x, string key, int inputs, int outputs) =>
        g.Node("Gemm", [x, g.Weight(key + ".weight", [outputs, inputs]), g.Weight(key + ".bias", [outputs])], Int("transB", 1));

    /// <summary>nn.Linear applied at every position of NCHW: a 1×1 convolution with the same weights.</summary>
    static string PointLinear(this GraphBuilder g, string x, string key, int inputs, int outputs) =>
        g.Node("Conv", [x, g.Weight(key + ".weight", [outputs, inputs], [outputs, inputs, 1, 1]), g.Weight(key + ".bias", [outputs])], Ints("kernel_shape", 1, 1));

    /// <summary>InstanceNorm2d(affine), eps 1e-5.</summary>
    static string InstanceNorm(this GraphBuilder g, string x, string key, int channels) =>
        g.Node("InstanceNormalization", [x, g.Weight(key + ".weight", [channels]), g.Weight(key + ".bias", [channels])], Float("epsilon", 1e-5f));

    /// <summary>x (1 + scale) + shift.</summary>
    static string Modulate(this GraphBuilder g, string x, string scale, string shift) =>
        g.Node("Add", [g.Node("Mul", [x, g.Node("Add", [scale, g.Constant([1f])])]), shift]);

    /// <summary>Columns [start, start + width) of [N, F] as [N, width, 1, 1].</summary>
    static string Column(this GraphBuilder g, string x, int start, int width) =>
        g.Node("Unsqueeze", [g.Slice(x, 1, start, start + width), g.Constant([2, 3])]);

    static string Slice(this GraphBuilder g, string x, long axis, long start, long end) =>
        g.Node("Slice", [x, g.Constant([start]), g.Constant([end]), g.Constant([axis])]);

    static string ShapeSlice(this GraphBuilder g, string x, long start, long end) => g.Slice(g.Node("Shape", [x]), 0, start, end);

    static string Squeeze(this GraphBuilder g, string x) => g.Node("Squeeze", [x, g.Constant([1])]);
}
