using System.Runtime.InteropServices;

namespace LatentBalance.Engine.ModelFiles;

/// <summary>Element types a weight file may store: the legacy typed storages (<c>torch.HalfStorage</c> ...) a PyTorch
/// checkpoint names, and the safetensors dtypes (F16 ...), which are the same ten.</summary>
internal enum ElementType
{
    Half, BFloat16, Float, Double, Long, Int, Short, Char, Byte, Bool,
}

internal static class ElementTypes
{
    /// <summary>The storage type for a <c>torch.&lt;Name&gt;</c> global, or null when the name is not a known storage class.</summary>
    public static ElementType? FromGlobalName(string name) => name switch
    {
        "HalfStorage" => ElementType.Half,
        "BFloat16Storage" => ElementType.BFloat16,
        "FloatStorage" => ElementType.Float,
        "DoubleStorage" => ElementType.Double,
        "LongStorage" => ElementType.Long,
        "IntStorage" => ElementType.Int,
        "ShortStorage" => ElementType.Short,
        "CharStorage" => ElementType.Char,
        "ByteStorage" => ElementType.Byte,
        "BoolStorage" => ElementType.Bool,
        _ => null,
    };

    /// <summary>The type of a safetensors dtype name, or null when unknown.</summary>
    public static ElementType? FromSafeTensors(string dtype) => dtype switch
    {
        "F16" => ElementType.Half,
        "BF16" => ElementType.BFloat16,
        "F32" => ElementType.Float,
        "F64" => ElementType.Double,
        "I64" => ElementType.Long,
        "I32" => ElementType.Int,
        "I16" => ElementType.Short,
        "I8" => ElementType.Char,
        "U8" => ElementType.Byte,
        "BOOL" => ElementType.Bool,
        _ => null,
    };

    public static bool IsFloatingPoint(this ElementType t) => t is ElementType.Half or ElementType.BFloat16 or ElementType.Float or ElementType.Double;

    public static int ElementSize(this ElementType t) => t switch
    {
        ElementType.Half or ElementType.BFloat16 or ElementType.Short => 2,
        ElementType.Float or ElementType.Int => 4,
        ElementType.Double or ElementType.Long => 8,
        _ => 1,
    };

    /// <summary>Decodes <paramref name="count"/> little-endian elements to float32.</summary>
    public static float[] ToFloat32(this ElementType t, ReadOnlySpan<byte> bytes, int count)
    {
        // Callers check bytes.Length >= count * ElementSize(); the host is little-endian (checked by the readers).
        bytes = bytes[..(count * t.ElementSize())];
        var dst = new float[count];
        switch (t)
        {
            case ElementType.Float: MemoryMarshal.Cast<byte, float>(bytes).CopyTo(dst); break;
            case ElementType.Half:
                {
                    var src = MemoryMarshal.Cast<byte, Half>(bytes); // the common case (half checkpoints): a plain loop
                    for (int i = 0; i < dst.Length; i++) dst[i] = (float)src[i];
                    break;
                }
            case ElementType.BFloat16: Convert(MemoryMarshal.Cast<byte, ushort>(bytes), dst, v => BitConverter.Int32BitsToSingle(v << 16)); break;
            case ElementType.Double: Convert(MemoryMarshal.Cast<byte, double>(bytes), dst, v => (float)v); break;
            case ElementType.Long: Convert(MemoryMarshal.Cast<byte, long>(bytes), dst, v => v); break;
            case ElementType.Int: Convert(MemoryMarshal.Cast<byte, int>(bytes), dst, v => v); break;
            case ElementType.Short: Convert(MemoryMarshal.Cast<byte, short>(bytes), dst, v => v); break;
            case ElementType.Char: Convert(MemoryMarshal.Cast<byte, sbyte>(bytes), dst, v => v); break;
            case ElementType.Byte: Convert(bytes, dst, v => v); break;
            case ElementType.Bool: Convert(bytes, dst, v => v != 0 ? 1f : 0f); break;
        }
        return dst;
    }

    static void Convert<T>(ReadOnlySpan<T> src, float[] dst, Func<T, float> convert)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = convert(src[i]);
    }
}
