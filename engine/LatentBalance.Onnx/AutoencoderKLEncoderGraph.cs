using LatentBalance.Engine.Vae;
using Onnx;

namespace LatentBalance.Onnx;

/// <summary>The encoder half of <see cref="AutoencoderKL"/> as an ONNX graph: image [N, 3, H, W] in [0, 1] → [-1, 1] →
/// <c>encoder</c> → <c>quant_conv</c> (when the config has it) → the mean half of the moments, shifted and scaled when
/// <see cref="AutoencoderKLConfig.ApplyScaling"/>: exactly <see cref="AutoencoderKL.Encode"/>. Its keys: <see cref="Owns"/>.</summary>
internal static class AutoencoderKLEncoderGraph
{
    public const string Input = "image", Output = "latent";

    public static bool Owns(string key) =>
        key.StartsWith("encoder.", StringComparison.Ordinal) || key.StartsWith("quant_conv.", StringComparison.Ordinal);

    public static ModelProto Build(AutoencoderKLConfig c, StateDict weights)
    {
        var g = new GraphBuilder(c.Name + " encoder", weights, Owns);
        var width = c.BlockOutChannels;
        int moments = 2 * c.LatentChannels;
        var x = g.Node("Sub", [g.Node("Mul", [g.Input(Input, c.InChannels), g.Constant([2f])]), g.Constant([1f])]);
        x = g.Conv(x, "encoder.conv_in", c.InChannels, width[0]);
        for (int i = 0; i < width.Count; i++)
        {
            for (int j = 0; j < c.LayersPerBlock; j++)
                x = g.Resnet(x, $"encoder.down_blocks.{i}.resnets.{j}", j == 0 ? width[Math.Max(i - 1, 0)] : width[i], width[i], c);
            if (i < width.Count - 1) x = g.Downsample(x, $"encoder.down_blocks.{i}.downsamplers.0.conv", width[i]);
        }
        x = g.MidBlock(x, "encoder.mid_block", width[^1], c, weights);
        x = g.Conv(g.NormSilu(x, "encoder.conv_norm_out", width[^1], c), "encoder.conv_out", width[^1], moments);
        if (c.UseQuantConv) x = g.Conv(x, "quant_conv", moments, moments, kernel: 1);
        var mean = g.Node("Slice", [x, g.Constant([0]), g.Constant([c.LatentChannels]), g.Constant([1])]);
        if (c.ApplyScaling)
        {
            if (c.ShiftFactor is double shift) mean = g.Node("Sub", [mean, g.Constant([(float)shift])]);
            mean = g.Node("Mul", [mean, g.Constant([(float)c.ScalingFactor])]);
        }
        return g.Build(mean, Output, c.LatentChannels);
    }
}
