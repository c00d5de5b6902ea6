using LatentBalance.Engine.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LatentBalance.Engine.Vae;

/// <summary>
/// TAESD Block: optional pool mid-block x ← x + Conv1×1(ReLU(GroupNorm(Conv1×1(x)))), then
/// ReLU(conv(x) + x) with conv = Conv3×3, ReLU, Conv3×3, ReLU, Conv3×3. Field names are the state-dict names.
/// </summary>
internal sealed class TaeBlock : Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // names must match the checkpoint keys
    readonly Sequential conv;
    readonly Sequential? pool;
#pragma warning restore IDE1006

    public TaeBlock(int width, bool withPool, int poolExpansion, int poolGroups) : base("Block")
    {
        conv = Sequential(
            ("0", Conv2d(width, width, 3, padding: 1)),
            ("1", ReLU()),
            ("2", Conv2d(width, width, 3, padding: 1)),
            ("3", ReLU()),
            ("4", Conv2d(width, width, 3, padding: 1)));
        if (withPool)
        {
            int wide = width * poolExpansion;
            pool = Sequential(
                ("0", Conv2d(width, wide, 1, bias: false)),
                ("1", GroupNorm(poolGroups, wide, eps: 1e-5)),
                ("2", ReLU()),
                ("3", Conv2d(wide, width, 1, bias: false)));
        }
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        if (pool is not null) x = x.Plus(pool.forward(x));
        return functional.relu(conv.forward(x).Plus(x));
    }
}

/// <summary>z → tanh(z / m) · m: keeps decoder inputs in (−m, m).</summary>
internal sealed class TaeClamp(double magnitude) : Module<Tensor, Tensor>("Clamp")
{
    public override Tensor forward(Tensor x) => torch.tanh(x.Over(magnitude)).Times(magnitude);
}

/// <summary>Builds the flat encoder/decoder sequentials; parameter-free layers still take an index.</summary>
internal static class TinyAutoencoderNetworks
{
    public static Sequential Encoder(TinyAutoencoderConfig c)
    {
        var layers = new List<Module<Tensor, Tensor>> { Conv2d(c.ImageChannels, c.Width, 3, padding: 1) };
        int stages = c.EncoderBlocks.Length;
        for (int s = 0; s < stages; s++)
        {
            if (s > 0) layers.Add(Conv2d(c.Width, c.Width, 3, stride: 2, padding: 1, bias: false));
            bool pool = c.DeepestStagePool && s == stages - 1;
            for (int b = 0; b < c.EncoderBlocks[s]; b++) layers.Add(new TaeBlock(c.Width, pool, c.PoolExpansion, c.PoolGroups));
        }
        layers.Add(Conv2d(c.Width, c.LatentChannels, 3, padding: 1));
        return Indexed(layers);
    }

    public static Sequential Decoder(TinyAutoencoderConfig c)
    {
        var layers = new List<Module<Tensor, Tensor>>();
        if (c.DecoderClamp) layers.Add(new TaeClamp(c.ClampMagnitude));
        layers.Add(Conv2d(c.LatentChannels, c.Width, 3, padding: 1));
        layers.Add(ReLU());
        for (int s = 0; s < c.DecoderBlocks.Length; s++)
        {
            if (s > 0)
            {
                layers.Add(Upsample(scale_factor: [2.0, 2.0], mode: UpsampleMode.Nearest));
                layers.Add(Conv2d(c.Width, c.Width, 3, padding: 1, bias: false));
            }
            bool pool = c.DeepestStagePool && s == 0;
            for (int b = 0; b < c.DecoderBlocks[s]; b++) layers.Add(new TaeBlock(c.Width, pool, c.PoolExpansion, c.PoolGroups));
        }
        layers.Add(Conv2d(c.Width, c.ImageChannels, 3, padding: 1));
        return Indexed(layers);
    }

    static Sequential Indexed(List<Module<Tensor, Tensor>> layers) =>
        Sequential(layers.Select((m, i) => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), (nn.Module<Tensor, Tensor>)m)).ToArray());
}
