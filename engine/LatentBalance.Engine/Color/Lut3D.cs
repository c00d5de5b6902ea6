namespace LatentBalance.Engine.Color;

/// <summary>
/// A 3D colour lookup table as in the Adobe/Resolve .cube format: <see cref="Size"/>^3 entries of
/// RGB output, red index changing fastest, then green, then blue. Inputs are mapped from
/// [DomainMin, DomainMax] onto the grid.
/// </summary>
public sealed class Lut3D
{
    public Lut3D(int size, float[] data)
    {
        if (size < 2 || size > 256) throw new ArgumentOutOfRangeException(nameof(size), $"LUT size {size} is outside 2..256");
        if (data.Length != size * size * size * 3) throw new ArgumentException($"a {size}^3 LUT needs {size * size * size * 3} values, got {data.Length}");
        Size = size;
        Data = data;
    }

    public int Size { get; }

    /// <summary>Interleaved RGB output values, index <see cref="Index"/>.</summary>
    public float[] Data { get; }

    public float[] DomainMin { get; init; } = [0f, 0f, 0f];
    public float[] DomainMax { get; init; } = [1f, 1f, 1f];
    public string? Title { get; init; }

    /// <summary>Offset of the entry (r, g, b) in <see cref="Data"/>.</summary>
    public int Index(int r, int g, int b) => ((b * Size + g) * Size + r) * 3;

    /// <summary>identity + strength * (this - identity): the correction at a strength, in LUT space.
    /// Applying it equals applying this LUT at <paramref name="strength"/> with <see cref="LutTransform"/>
    /// (out = in + strength * (lut(in) - in)), since interpolating the identity gives the input back.</summary>
    public Lut3D Blend(double strength)
    {
        if (!(strength >= 0 && strength <= 1)) throw new ArgumentOutOfRangeException(nameof(strength), $"LUT strength {strength} is outside [0, 1]");
        if (strength == 1) return this;
        var id = Identity(Size);
        var d = new float[Data.Length];
        for (int i = 0; i < d.Length; i++) d[i] = (float)(id.Data[i] + strength * (Data[i] - id.Data[i]));
        return new Lut3D(Size, d) { Title = Title, DomainMin = DomainMin, DomainMax = DomainMax };
    }

    public static Lut3D Identity(int size)
    {
        var d = new float[size * size * size * 3];
        float s = size - 1;
        int i = 0;
        for (int b = 0; b < size; b++)
            for (int g = 0; g < size; g++)
                for (int r = 0; r < size; r++)
                {
                    d[i++] = r / s; d[i++] = g / s; d[i++] = b / s;
                }
        return new Lut3D(size, d);
    }
}
