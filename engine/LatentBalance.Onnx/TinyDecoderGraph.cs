using LatentBalance.Engine.Vae;
using Onnx;

namespace LatentBalance.Onnx;

/// <summary>The decoder of <c>TinyAutoencoderNetworks.Decoder</c> as an ONNX graph: latent [N, latent channels, h, w] →
/// image [N, 3, h·f, w·f], roughly [0, 1], not clamped. Parameter-free layers (clamp, ReLU, upsample) take an index, as there.</summary>
internal static class TinyDecoderGraph
{
    public const string Input = "latent", Output = "image";

    /// <param name="upsample">how each stage's ×2 upsample and the bias-free 3×3 conv after it are built.</param>
    public static ModelProto Build(TinyAutoencoderConfig c, StateDict weights, DecoderUpsample upsample = DecoderUpsample.Resize)
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
                x = upsample switch
                {
                    DecoderUpsample.Resize => g.Conv(g.Upsample2x(x), $"{layer + 1}", c.Width, c.Width, bias: false),
                    DecoderUpsample.ConvTranspose => g.Upsample2xConvTranspose(x, $"{layer + 1}", c.Width, c.Width),
                    _ => g.Upsample2xConv(x, $"{layer + 1}", c.Width, c.Width, phases: upsample == DecoderUpsample.LowResolutionPhases),
                };
                layer += 2;
            }
            bool pool = c.DeepestStagePool && s == 0;
            for (int b = 0; b < c.DecoderBlocks[s]; b++) x = g.Block(x, $"{layer++}", c, pool);
        }
        x = g.Conv(x, $"{layer}", c.Width, c.ImageChannels);
        return g.Build(x, Output, c.ImageChannels);
    }
}

/// <summary>How the TAESD decoder's ×2 upsample + 3×3 conv pairs become ONNX nodes (<see cref="TaeLayers.Upsample2xConv"/>).</summary>
public enum DecoderUpsample
{
    /// <summary>Resize (nearest) then Conv, as the PyTorch module is written.</summary>
    Resize,
    /// <summary>One 2×2 conv with 4× the outputs at the low resolution on a grid shifted by a pixel, DepthToSpace, Slice.</summary>
    LowResolution,
    /// <summary>Four 2×2 convs at the low resolution (one per output phase), Concat, DepthToSpace.</summary>
    LowResolutionPhases,
    /// <summary>One ConvTranspose, stride 2, 4×4 kernel.</summary>
    ConvTranspose,
}
