using LatentBalance.Engine.Vae;
using Onnx;

namespace LatentBalance.Onnx;

/// <summary>The encoder of <c>TinyAutoencoderNetworks.Encoder</c> as an ONNX graph: image [N, 3, H, W] in [0, 1] → latent
/// [N, latent channels, H/f, W/f]. State-dict keys are the flat sequential's indices, as there.</summary>
internal static class TinyEncoderGraph
{
    public const string Input = "image", Output = "latent";

    public static ModelProto Build(TinyAutoencoderConfig c, StateDict weights)
    {
        var g = new GraphBuilder(c.Name + " encoder", weights);
        int layer = 0;
        var x = g.Conv(g.Input(Input, c.ImageChannels), $"{layer++}", c.ImageChannels, c.Width);
        int stages = c.EncoderBlocks.Length;
        for (int s = 0; s < stages; s++)
        {
            if (s > 0) x = g.Conv(x, $"{layer++}", c.Width, c.Width, stride: 2, bias: false);
            bool pool = c.DeepestStagePool && s == stages - 1;
            for (int b = 0; b < c.EncoderBlocks[s]; b++) x = g.Block(x, $"{layer++}", c, pool);
        }
        x = g.Conv(x, $"{layer}", c.Width, c.LatentChannels);
        return g.Build(x, Output, c.LatentChannels);
    }
}
