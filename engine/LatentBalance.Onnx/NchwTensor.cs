namespace LatentBalance.Onnx;

/// <summary>A float32 NCHW tensor in a plain array (C order): what goes into and comes out of an <see cref="OnnxNetwork"/>.</summary>
public sealed class NchwTensor
{
    public float[] Data { get; }
    public int Batch { get; }
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }

    public NchwTensor(float[] data, int batch, int channels, int height, int width)
    {
        if (batch <= 0 || channels <= 0 || height <= 0 || width <= 0 || data.LongLength != (long)batch * channels * height * width)
            throw new ArgumentException($"{data.Length} values do not make an NCHW tensor of [{batch},{channels},{height},{width}]");
        (Data, Batch, Channels, Height, Width) = (data, batch, channels, height, width);
    }

    public long[] Shape => [Batch, Channels, Height, Width];
}
