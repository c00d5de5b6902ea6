using LatentBalance.Engine.Vae;
using Onnx;

namespace LatentBalance.Onnx;

/// <summary>The decoder of <c>TinyAutoencoderNetworks.Decoder</c> as an ONNX graph: latent [N, latent channels, h, w] →
/// image [N, 3, h·f, w·f], roughly [0, 1], not clamped. Parameter-free layers (clamp, ReLU, upsample) take an index, as there.</summary>
internal static class TinyDecoderGraph
{
    public const string Input = "latent", Output = "image";

    public static ModelProto Build(TinyAutoencoderConfig c, StateDict weights)
    {
        var g = new GraphBuilder(c.Name + " decoder", weights);
        int layer = 0;
        var x = g.Input(Input, c.LatentChannels);
        if (c.DecoderClamp) { x = g.Clamp(x, c.ClampMagnitude); layer++; }
        x = g.Relu(g.Conv(x, $"{layer}", c.LatentChannels, c.Width));
        layer += 2;
        for (int s = 0; s < c.DecoderBlocks.Length; s++)
        {
            if (s > 0)
            {
                x = g.Upsample2x(x);
                x = g.Conv(x, $"{layer + 1}", c.Width, c.Width, bias: false);
                layer += 2;
            }
            bool pool = c.DeepestStagePool && s == 0;
            for (int b = 0; b < c.DecoderBlocks[s]; b++) x = g.Block(x, $"{layer++}", c, pool);
        }
        x = g.Conv(x, $"{layer}", c.Width, c.ImageChannels);
        return g.Build(x, Output, c.ImageChannels);
    }
}
