using LatentBalance.Engine.Vae;
using static LatentBalance.Onnx.GraphBuilder;

namespace LatentBalance.Onnx;

/// <summary>
/// The TAESD layers of <c>TinyAutoencoderModules.cs</c> as ONNX nodes, weights named by the same state-dict keys:
/// 3×3 (or 1×1) Conv with zero padding, Block (optional GroupNorm pool mid-block, then ReLU(conv(x) + x)),
/// the tanh clamp and the ×2 nearest upsample.
/// </summary>
internal static class TaeLayers
{
    public static string Conv(this GraphBuilder g, string x, string key, int inputs, int outputs, int kernel = 3, int stride = 1, bool bias = true)
    {
        var weight = g.Weight(key + ".weight", [outputs, inputs, kernel, kernel]);
        string[] args = bias ? [x, weight, g.Weight(key + ".bias", [outputs])] : [x, weight];
        int pad = kernel / 2;
        return g.Node("Conv", args, Ints("kernel_shape", kernel, kernel), Ints("pads", pad, pad, pad, pad), Ints("strides", stride, stride));
    }

    public static string Relu(this GraphBuilder g, string x) => g.Node("Relu", [x]);

    /// <summary>x ← x + pool(x) when <paramref name="pool"/>; then ReLU(Conv(ReLU(Conv(ReLU(Conv(x))))) + x).</summary>
    public static string Block(this GraphBuilder g, string x, string key, TinyAutoencoderConfig c, bool pool)
    {
        if (pool) x = g.Node("Add", [x, g.Pool(x, key + ".pool", c)]);
        var y = g.Relu(g.Conv(x, key + ".conv.0", c.Width, c.Width));
        y = g.Relu(g.Conv(y, key + ".conv.2", c.Width, c.Width));
        y = g.Conv(y, key + ".conv.4", c.Width, c.Width);
        return g.Relu(g.Node("Add", [y, x]));
    }

    /// <summary>Conv1×1 (widen), GroupNorm, ReLU, Conv1×1 (narrow), no biases.</summary>
    static string Pool(this GraphBuilder g, string x, string key, TinyAutoencoderConfig c)
    {
        int wide = c.Width * c.PoolExpansion;
        var y = g.Conv(x, key + ".0", c.Width, wide, kernel: 1, bias: false);
        y = g.Relu(g.GroupNorm(y, key + ".1", wide, c.PoolGroups));
        return g.Conv(y, key + ".3", wide, c.Width, kernel: 1, bias: false);
    }

    /// <summary>GroupNorm as InstanceNormalization over [N, groups, rest], then the per-channel affine.</summary>
    public static string GroupNorm(this GraphBuilder g, string x, string key, int channels, int groups, double epsilon = 1e-5)
    {
        var grouped = g.Node("Reshape", [x, g.Constant([0, groups, -1])]);
        var ones = g.Constant(Enumerable.Repeat(1f, groups).ToArray(), groups);
        var zeros = g.Constant(new float[groups], groups);
        var normed = g.Node("InstanceNormalization", [grouped, ones, zeros], Float("epsilon", (float)epsilon));
        var back = g.Node("Reshape", [normed, g.Node("Shape", [x])]);
        var scaled = g.Node("Mul", [back, g.Weight(key + ".weight", [channels], [channels, 1, 1])]);
        return g.Node("Add", [scaled, g.Weight(key + ".bias", [channels], [channels, 1, 1])]);
    }

    /// <summary>z → tanh(z / m) · m.</summary>
    public static string Clamp(this GraphBuilder g, string x, double magnitude)
    {
        var m = g.Constant([(float)magnitude]);
        return g.Node("Mul", [g.Node("Tanh", [g.Node("Div", [x, m])]), m]);
    }

    /// <summary>×2 nearest-neighbour upsample (PyTorch's nearest: output pixel i reads input pixel floor(i / 2)).</summary>
    public static string Upsample2x(this GraphBuilder g, string x) =>
        g.Node("Resize", [x, "", g.Constant([1f, 1f, 2f, 2f], 4)],
            String("mode", "nearest"), String("coordinate_transformation_mode", "asymmetric"), String("nearest_mode", "floor"));
}
