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

    /// <summary>
    /// The ×2 nearest upsample followed by a 3×3 Conv without bias (key <paramref name="key"/>), computed at the low resolution
    /// (<paramref name="phases"/>: four 2×2 convs, one per output phase; else one 2×2 conv on a grid shifted by one pixel):
    /// the same function, exactly in real arithmetic, for about 4/9 of the multiply-adds. Upsampled pixel Y reads, through
    /// kernel row d = 0, 1, 2, source row floor((Y + d - 1) / 2); rows -1 and H (the only ones read outside the image) are
    /// zeros in both. Taps that land on the same source pixel are summed.
    /// <list type="bullet">
    /// <item>Phases: output row 2i + a reads source rows i - 1 + a and i + a (taps floor((a + d - 1) / 2) + 1 - a), so phase
    /// (a, b) is a 2×2 conv padded 1 - a above, a below, 1 - b left, b right (h×w out); the four are concatenated phase-major
    /// and DepthToSpace (DCR: channel (a·2 + b)·C + c goes to pixel (2i + a, 2j + b)) interleaves them.</item>
    /// <item>Shifted: upsampled rows 2i - 1 and 2i both read source rows i - 1 and i (taps floor((p + d) / 2) for p = 0, 1),
    /// so one 2×2 conv with 4× the output channels, padded 1 all round, gives (h + 1)×(w + 1) blocks of 2×2 output pixels
    /// (DepthToSpace, DCR), of which rows and columns 1 .. 2h (2w) are the result (a Slice drops the outer ring).</item>
    /// </list>
    /// </summary>
    public static string Upsample2xConv(this GraphBuilder g, string x, string key, int inputs, int outputs, bool phases = false)
    {
        var w = g.WeightData(key + ".weight", [outputs, inputs, 3, 3]) ?? new float[outputs * inputs * 9];
        if (phases)
        {
            var parts = new string[4];
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                {
                    var k = new float[outputs * inputs * 4];
                    for (int oi = 0; oi < outputs * inputs; oi++)
                        for (int dy = 0; dy < 3; dy++)
                            for (int dx = 0; dx < 3; dx++)
                                k[oi * 4 + ((a + dy + 1) / 2 - a) * 2 + (b + dx + 1) / 2 - b] += w[oi * 9 + dy * 3 + dx];
                    parts[a * 2 + b] = g.Node("Conv", [x, g.Constant(k, outputs, inputs, 2, 2)],
                        Ints("kernel_shape", 2, 2), Ints("pads", 1 - a, 1 - b, a, b), Ints("strides", 1, 1));
                }
            return g.Node("DepthToSpace", [g.Node("Concat", parts, Int("axis", 1))], Int("blocksize", 2), String("mode", "DCR"));
        }
        // output channel (p·2 + q)·outputs + o: sub-pixel (p, q) of output channel o
        var shifted = new float[4 * outputs * inputs * 4];
        for (int p = 0; p < 2; p++)
            for (int q = 0; q < 2; q++)
                for (int oi = 0; oi < outputs * inputs; oi++)
                    for (int dy = 0; dy < 3; dy++)
                        for (int dx = 0; dx < 3; dx++)
                            shifted[((p * 2 + q) * outputs * inputs + oi) * 4 + (p + dy) / 2 * 2 + (q + dx) / 2] += w[oi * 9 + dy * 3 + dx];
        var blocks = g.Node("Conv", [x, g.Constant(shifted, 4 * outputs, inputs, 2, 2)],
            Ints("kernel_shape", 2, 2), Ints("pads", 1, 1, 1, 1), Ints("strides", 1, 1));
        var image = g.Node("DepthToSpace", [blocks], Int("blocksize", 2), String("mode", "DCR"));
        return g.Node("Slice", [image, g.Constant([1L, 1]), g.Constant([-1L, -1]), g.Constant([2L, 3])]);
    }

    /// <summary>
    /// The ×2 nearest upsample followed by a 3×3 Conv without bias as one ConvTranspose (stride 2, 4×4 kernel, pads 1):
    /// output row 2m + a gets source rows m - 1 and m through taps 3 and 1 (a = 0) or m and m + 1 through taps 2 and 0
    /// (a = 1), so per axis the 4 taps are [w2, w1 + w2, w0 + w1, w0] of the 3×3 kernel's (w0, w1, w2); weight layout
    /// [inputs, outputs, 4, 4]. The same function for 4/9 of the multiply-adds.
    /// </summary>
    public static string Upsample2xConvTranspose(this GraphBuilder g, string x, string key, int inputs, int outputs)
    {
        var w = g.WeightData(key + ".weight", [outputs, inputs, 3, 3]) ?? new float[outputs * inputs * 9];
        // tap t of the transposed kernel sums the 3x3 rows d with TransposedTap(d) containing t
        int[][] taps = [[2], [1, 2], [0, 1], [0]];
        var k = new float[inputs * outputs * 16];
        for (int o = 0; o < outputs; o++)
            for (int i = 0; i < inputs; i++)
                for (int ty = 0; ty < 4; ty++)
                    for (int tx = 0; tx < 4; tx++)
                    {
                        float sum = 0;
                        foreach (int dy in taps[ty])
                            foreach (int dx in taps[tx])
                                sum += w[(o * inputs + i) * 9 + dy * 3 + dx];
                        k[(i * outputs + o) * 16 + ty * 4 + tx] = sum;
                    }
        return g.Node("ConvTranspose", [x, g.Constant(k, inputs, outputs, 4, 4)],
            Ints("kernel_shape", 4, 4), Ints("pads", 1, 1, 1, 1), Ints("strides", 2, 2));
    }

    /// <summary>×2 nearest-neighbour upsample (PyTorch's nearest: output pixel i reads input pixel floor(i / 2)).</summary>
    public static string Upsample2x(this GraphBuilder g, string x) =>
        g.Node("Resize", [x, "", g.Constant([1f, 1f, 2f, 2f], 4)],
            String("mode", "nearest"), String("coordinate_transformation_mode", "asymmetric"), String("nearest_mode", "floor"));
}
