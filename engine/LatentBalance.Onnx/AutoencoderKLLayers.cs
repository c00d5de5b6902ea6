using LatentBalance.Engine.Vae;
using static LatentBalance.Onnx.GraphBuilder;

namespace LatentBalance.Onnx;

/// <summary>
/// The layers of <c>AutoencoderKLBlocks.cs</c> (diffusers' AutoencoderKL) as ONNX nodes, weights named by the same
/// state-dict keys: ResnetBlock2D, the mid block's single-head attention, the stride-2 downsampler, the ×2 upsampler.
/// GroupNorm and the convs are <see cref="TaeLayers"/>'; GroupNorm takes the config's epsilon.
/// </summary>
internal static class AutoencoderKLLayers
{
    /// <summary>x · sigmoid(x) (the KL blocks and the balancer both use it).</summary>
    public static string Silu(this GraphBuilder g, string x) => g.Node("Mul", [x, g.Node("Sigmoid", [x])]);

    /// <summary>SiLU(GroupNorm(x)).</summary>
    public static string NormSilu(this GraphBuilder g, string x, string key, int channels, AutoencoderKLConfig c) =>
        g.Silu(g.GroupNorm(x, key, channels, c.NormNumGroups, c.NormEps));

    /// <summary>skip + conv2(SiLU(norm2(conv1(SiLU(norm1(x)))))), the skip through a 1×1 <c>conv_shortcut</c> when the width changes.</summary>
    public static string Resnet(this GraphBuilder g, string x, string key, int inputs, int outputs, AutoencoderKLConfig c)
    {
        var h = g.Conv(g.NormSilu(x, key + ".norm1", inputs, c), key + ".conv1", inputs, outputs);
        h = g.Conv(g.NormSilu(h, key + ".norm2", outputs, c), key + ".conv2", outputs, outputs);
        var skip = inputs == outputs ? x : g.Conv(x, key + ".conv_shortcut", inputs, outputs, kernel: 1);
        return g.Node("Add", [skip, h]);
    }

    /// <summary><c>resnets.0</c>, <c>attentions.0</c> when the config has mid-block attention, <c>resnets.1</c>.</summary>
    public static string MidBlock(this GraphBuilder g, string x, string key, int channels, AutoencoderKLConfig c, StateDict weights)
    {
        x = g.Resnet(x, key + ".resnets.0", channels, channels, c);
        if (c.MidBlockAddAttention) x = g.Attention(x, key + ".attentions.0", channels, c, weights);
        return g.Resnet(x, key + ".resnets.1", channels, channels, c);
    }

    /// <summary>x + to_out(softmax(q kᵀ / √c) v) over all pixels, q, k, v the linear maps of GroupNorm(x) (as 1×1 convs).</summary>
    static string Attention(this GraphBuilder g, string x, string key, int channels, AutoencoderKLConfig c, StateDict weights)
    {
        var normed = g.GroupNorm(x, key + ".group_norm", channels, c.NormNumGroups, c.NormEps);
        var flat = g.Constant([0, channels, -1]);
        string Tokens(string y) => g.Node("Transpose", [g.Node("Reshape", [y, flat])], Ints("perm", 0, 2, 1)); // [N, hw, c]
        var q = Tokens(g.Linear(normed, key, "to_q", channels, weights));
        var kT = g.Node("Reshape", [g.Linear(normed, key, "to_k", channels, weights), flat]); // [N, c, hw]
        var v = Tokens(g.Linear(normed, key, "to_v", channels, weights));
        var scores = g.Node("Mul", [g.Node("MatMul", [q, kT]), g.Constant([(float)(1 / Math.Sqrt(channels))])]);
        var mixed = g.Node("MatMul", [g.Node("Softmax", [scores]), v]); // [N, hw, c]
        var image = g.Node("Reshape", [g.Node("Transpose", [mixed], Ints("perm", 0, 2, 1)), g.Node("Shape", [x])]);
        return g.Node("Add", [g.Linear(image, key, "to_out.0", channels, weights), x]);
    }

    /// <summary>The linear layer <paramref name="name"/> of an attention block as a 1×1 conv. Older diffusers files name it
    /// <c>query/key/value/proj_attn</c> and may store its weight as a 1×1 conv's; both are taken, as the engine does.</summary>
    static string Linear(this GraphBuilder g, string x, string key, string name, int channels, StateDict weights)
    {
        var legacy = key + AutoencoderKL.LegacyAttention.Single(n => n.New == $".{name}.").Old;
        var prefix = weights.Tensors.ContainsKey(legacy + "weight") ? legacy : $"{key}.{name}.";
        long[] conv = [channels, channels, 1, 1];
        bool stored4d = weights.Tensors.TryGetValue(prefix + "weight", out var w) && w.Shape.Length == 4;
        var weight = g.Weight(prefix + "weight", stored4d ? conv : [channels, channels], conv);
        return g.Node("Conv", [x, weight, g.Weight(prefix + "bias", [channels])], Ints("kernel_shape", 1, 1));
    }

    /// <summary>Zero pad right and bottom by one, then the stride-2 3×3 conv without padding (key <c>…downsamplers.0.conv</c>).</summary>
    public static string Downsample(this GraphBuilder g, string x, string key, int channels)
    {
        var weight = g.Weight(key + ".weight", [channels, channels, 3, 3]);
        return g.Node("Conv", [x, weight, g.Weight(key + ".bias", [channels])],
            Ints("kernel_shape", 3, 3), Ints("pads", 0, 0, 1, 1), Ints("strides", 2, 2));
    }

    /// <summary>Nearest ×2, then a 3×3 conv (key <c>…upsamplers.0.conv</c>).</summary>
    public static string Upsample(this GraphBuilder g, string x, string key, int channels) =>
        g.Conv(g.Upsample2x(x), key, channels, channels);
}
