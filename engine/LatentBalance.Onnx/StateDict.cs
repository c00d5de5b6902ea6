using LatentBalance.Engine.ModelFiles;

namespace LatentBalance.Onnx;

/// <summary>A weight file as float32 arrays by state-dict key, read through the engine's one weight reader
/// (<see cref="Pretrained.ReadWeights"/>: .pth or .safetensors). <see cref="Source"/> names the file in errors.</summary>
internal sealed record StateDict(string Source, IReadOnlyDictionary<string, (float[] Data, long[] Shape)> Tensors)
{
    public static StateDict Read(string path)
    {
        var weights = Pretrained.ReadWeights(path);
        var arrays = new Dictionary<string, (float[], long[])>(StringComparer.Ordinal);
        try
        {
            foreach (var (key, t) in weights)
            {
                using var contiguous = t.contiguous();
                arrays[key] = (contiguous.data<float>().ToArray(), t.shape);
            }
        }
        finally { foreach (var t in weights.Values) t.Dispose(); }
        return new(path, arrays);
    }
}
