using LatentBalance.Engine.ModelFiles;

namespace LatentBalance.Onnx;

/// <summary>A weight file as float32 arrays by state-dict key, read without libtorch by the engine's one weight reader
/// (<see cref="WeightArray.ReadFile"/>: .pth or .safetensors). <see cref="Source"/> names the file in errors.</summary>
internal sealed record StateDict(string Source, IReadOnlyDictionary<string, WeightArray> Tensors)
{
    public static StateDict Read(string path) => new(path, WeightArray.ReadFile(path));
}
