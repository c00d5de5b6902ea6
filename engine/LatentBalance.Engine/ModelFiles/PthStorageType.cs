namespace LatentBalance.Engine.ModelFiles;

/// <summary>Element types of the legacy typed storages (<c>torch.HalfStorage</c> ...) a PyTorch checkpoint names.</summary>
internal enum PthStorageType
{
    Half, BFloat16, Float, Double, Long, Int, Short, Char, Byte, Bool,
}

internal static class PthStorageTypes
{
    /// <summary>The storage type for a <c>torch.&lt;Name&gt;</c> global, or null when the name is not a known storage class.</summary>
    public static PthStorageType? FromGlobalName(string name) => name switch
    {
        "HalfStorage" => PthStorageType.Half,
        "BFloat16Storage" => PthStorageType.BFloat16,
        "FloatStorage" => PthStorageType.Float,
        "DoubleStorage" => PthStorageType.Double,
        "LongStorage" => PthStorageType.Long,
        "IntStorage" => PthStorageType.Int,
        "ShortStorage" => PthStorageType.Short,
        "CharStorage" => PthStorageType.Char,
        "ByteStorage" => PthStorageType.Byte,
        "BoolStorage" => PthStorageType.Bool,
        _ => null,
    };

    public static int ElementSize(this PthStorageType t) => t switch
    {
        PthStorageType.Half or PthStorageType.BFloat16 or PthStorageType.Short => 2,
        PthStorageType.Float or PthStorageType.Int => 4,
        PthStorageType.Double or PthStorageType.Long => 8,
        _ => 1,
    };

    /// <summary>Decodes <paramref name="count"/> little-endian elements to float32.</summary>
    public static float[] ToFloat32(this PthStorageType t, ReadOnlySpan<byte> bytes, int count)
    {
        var dst = new float[count];
        // Callers check bytes.Length >= count * ElementSize(); the host is little-endian (checked by PthReader).
        switch (t)
        {
            case PthStorageType.Float:
                System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes[..(count * 4)]).CopyTo(dst);
                break;
            case PthStorageType.Half:
                {
                    var src = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(bytes[..(count * 2)]);
                    for (int i = 0; i < count; i++) dst[i] = (float)src[i];
                    break;
                }
            case PthStorageType.BFloat16:
                {
                    var src = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(bytes[..(count * 2)]);
                    for (int i = 0; i < count; i++) dst[i] = BitConverter.Int32BitsToSingle(src[i] << 16);
                    break;
                }
            case PthStorageType.Double:
                {
                    var src = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(bytes[..(count * 8)]);
                    for (int i = 0; i < count; i++) dst[i] = (float)src[i];
                    break;
                }
            case PthStorageType.Long:
                {
                    var src = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(bytes[..(count * 8)]);
                    for (int i = 0; i < count; i++) dst[i] = src[i];
                    break;
                }
            case PthStorageType.Int:
                {
                    var src = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(bytes[..(count * 4)]);
                    for (int i = 0; i < count; i++) dst[i] = src[i];
                    break;
                }
            case PthStorageType.Short:
                {
                    var src = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, short>(bytes[..(count * 2)]);
                    for (int i = 0; i < count; i++) dst[i] = src[i];
                    break;
                }
            case PthStorageType.Char:
                for (int i = 0; i < count; i++) dst[i] = (sbyte)bytes[i];
                break;
            case PthStorageType.Byte:
                for (int i = 0; i < count; i++) dst[i] = bytes[i];
                break;
            case PthStorageType.Bool:
                for (int i = 0; i < count; i++) dst[i] = bytes[i] != 0 ? 1f : 0f;
                break;
        }
        return dst;
    }
}
