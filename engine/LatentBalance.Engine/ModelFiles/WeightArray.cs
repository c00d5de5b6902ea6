namespace LatentBalance.Engine.ModelFiles;

/// <summary>
/// One tensor of a weight file as a plain float32 array in C order (a .pth view's offset and strides materialised),
/// with its shape and whether the file stores it as a floating-point type (integer and bool types are read as float32).
/// No libtorch is involved: the ONNX networks take these arrays as they are, the TorchSharp networks make tensors of them
/// (<see cref="Pretrained.ReadWeights"/>).
/// </summary>
public sealed class WeightArray(float[] data, long[] shape, bool floatingPoint = true)
{
    public float[] Data { get; } = data;
    public long[] Shape { get; } = shape;
    public bool FloatingPoint { get; } = floatingPoint;

    /// <summary>
    /// The one reader of weight files, by extension: PyTorch checkpoints (.pth, .pt, .ckpt, .bin, <see cref="PthReader"/>)
    /// or .safetensors (<see cref="SafeTensors"/>). Every tensor must be floating point in the file.
    /// </summary>
    /// <exception cref="ModelFileException">unreadable, corrupt or unsafe file, or an integer tensor; the message names the file.</exception>
    public static Dictionary<string, WeightArray> ReadFile(string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        var weights = ext switch
        {
            ".pth" or ".pt" or ".ckpt" or ".bin" => PthReader.Read(path),
            ".safetensors" => SafeTensors.Read(path),
            _ => throw new ModelFileException($"{path}: unsupported weight file type '{ext}' (expected a PyTorch .pth checkpoint or .safetensors)"),
        };
        if (weights.FirstOrDefault(kv => !kv.Value.FloatingPoint).Key is { } key)
            throw new ModelFileException($"{path}: '{key}' is stored as integers or bools, not floating point");
        return weights;
    }
}
