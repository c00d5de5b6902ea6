using LatentBalance.Engine.Color;
using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Pipeline;

/// <summary>
/// Step 6a: bakes a chain of colour maps into one 3D LUT by evaluating the grid points through
/// every map in turn (the composition is exact at the grid points; the LUT interpolates between).
/// </summary>
public static class LutBaker
{
    public const int DefaultSize = 33;

    public static Lut3D Bake(IReadOnlyList<nn.Module<Tensor, Tensor>> maps, int size = DefaultSize, string? title = null)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var identity = Lut3D.Identity(size);
        var device = maps.Count > 0 ? maps[0].parameters().First().device : CPU;
        var x = tensor(identity.Data, [identity.Data.Length / 3, 3]).to(device);
        foreach (var m in maps) x = m.forward(x).clamp(0, 1);
        var data = x.cpu().contiguous().data<float>().ToArray();
        return new Lut3D(size, data) { Title = title };
    }
}
