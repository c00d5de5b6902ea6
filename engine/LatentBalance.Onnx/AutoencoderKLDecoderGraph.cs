using LatentBalance.Engine.Vae;
using Onnx;

namespace LatentBalance.Onnx;

/// <summary>The decoder half of <see cref="AutoencoderKL"/> as an ONNX graph: latent [N, latent channels, h, w] (unscaled
/// and unshifted when <see cref="AutoencoderKLConfig.ApplyScaling"/>) → <c>post_quant_conv</c> (when the config has it) →
/// <c>decoder</c> → image [N, 3, h·f, w·f] mapped from [-1, 1] to roughly [0, 1], not clamped: exactly
/// <see cref="AutoencoderKL.Decode"/>. Its keys: every key the encoder graph does not own.</summary>
internal static class AutoencoderKLDecoderGraph
{
    public const string Input = "latent", Output = "image";

    public static ModelProto Build(AutoencoderKLConfig c, StateDict weights)
    {
        var g = new GraphBuilder(c.Name + " decoder", weights, key => !AutoencoderKLEncoderGraph.Owns(key));
        var width = c.BlockOutChannels.Reverse().ToArray();
        var z = g.Input(Input, c.LatentChannels);
        if (c.ApplyScaling)
        {
            z = g.Node("Div", [z, g.Constant([(float)c.ScalingFactor])]);
            if (c.ShiftFactor is double shift) z = g.Node("Add", [z, g.Constant([(float)shift])]);
        }
        if (c.UsePostQuantConv) z = g.Conv(z, "post_quant_conv", c.LatentChannels, c.LatentChannels, kernel: 1);
        var x = g.Conv(z, "decoder.conv_in", c.LatentChannels, width[0]);
        x = g.MidBlock(x, "decoder.mid_block", width[0], c, weights);
        for (int i = 0; i < width.Length; i++)
        {
            for (int j = 0; j <= c.LayersPerBlock; j++)
                x = g.Resnet(x, $"decoder.up_blocks.{i}.resnets.{j}", j == 0 ? width[Math.Max(i - 1, 0)] : width[i], width[i], c);
            if (i < width.Length - 1) x = g.Upsample(x, $"decoder.up_blocks.{i}.upsamplers.0.conv", width[i]);
        }
        x = g.Conv(g.NormSilu(x, "decoder.conv_norm_out", width[^1], c), "decoder.conv_out", width[^1], c.OutChannels);
        x = g.Node("Mul", [g.Node("Add", [x, g.Constant([1f])]), g.Constant([0.5f])]);
        return g.Build(x, Output, c.OutChannels);
    }
}
