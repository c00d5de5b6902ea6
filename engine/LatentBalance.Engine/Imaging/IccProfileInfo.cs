using System.Buffers.Binary;
using System.Text;

namespace LatentBalance.Engine.Imaging;

/// <summary>
/// The few facts about an embedded ICC profile that decide colour handling: its data colour space
/// ('RGB ', 'CMYK', 'GRAY') and its description, from which sRGB profiles are recognised.
/// </summary>
public sealed class IccProfileInfo
{
    IccProfileInfo(byte[] data, string colourSpace, string description)
    {
        Data = data;
        ColourSpace = colourSpace;
        Description = description;
    }

    public byte[] Data { get; }

    /// <summary>The four-character data colour space signature, e.g. "RGB ", "CMYK", "GRAY".</summary>
    public string ColourSpace { get; }

    public string Description { get; }

    public bool IsRgb => ColourSpace == "RGB ";
    public bool IsCmyk => ColourSpace == "CMYK";
    public bool IsGrey => ColourSpace == "GRAY";

    /// <summary>True for the usual sRGB profiles ("sRGB IEC61966-2.1", "sRGB built-in", "sRGB v4 ..."):
    /// pixels are then already in the working space and need no conversion.</summary>
    public bool IsSrgb => IsRgb && Description.Contains("sRGB", StringComparison.OrdinalIgnoreCase);

    /// <summary>Parses the header and 'desc' tag; null when the bytes are not an ICC profile.</summary>
    public static IccProfileInfo? TryParse(byte[]? data)
    {
        if (data == null || data.Length < 132) return null;
        if (Encoding.ASCII.GetString(data, 36, 4) != "acsp") return null;
        var space = Encoding.ASCII.GetString(data, 16, 4);
        return new IccProfileInfo(data, space, ReadDescription(data));
    }

    static string ReadDescription(byte[] d)
    {
        try
        {
            int count = BinaryPrimitives.ReadInt32BigEndian(d.AsSpan(128));
            for (int i = 0; i < count && 132 + i * 12 + 12 <= d.Length; i++)
            {
                int at = 132 + i * 12;
                if (Encoding.ASCII.GetString(d, at, 4) != "desc") continue;
                int off = BinaryPrimitives.ReadInt32BigEndian(d.AsSpan(at + 4));
                int len = BinaryPrimitives.ReadInt32BigEndian(d.AsSpan(at + 8));
                if (off < 0 || len < 12 || off + len > d.Length) return "";
                var type = Encoding.ASCII.GetString(d, off, 4);
                if (type == "desc")
                {
                    // textDescriptionType (v2): uint32 ASCII count, then the ASCII text
                    int n = BinaryPrimitives.ReadInt32BigEndian(d.AsSpan(off + 8));
                    n = Math.Clamp(n, 0, len - 12);
                    return Encoding.ASCII.GetString(d, off + 12, n).TrimEnd('\0');
                }
                if (type == "mluc")
                {
                    // multiLocalizedUnicodeType (v4): take the first record, UTF-16BE
                    int records = BinaryPrimitives.ReadInt32BigEndian(d.AsSpan(off + 8));
                    if (records < 1 || len < 28) return "";
                    int sLen = BinaryPrimitives.ReadInt32BigEndian(d.AsSpan(off + 20));
                    int sOff = BinaryPrimitives.ReadInt32BigEndian(d.AsSpan(off + 24));
                    if (sOff < 0 || sLen < 0 || sOff + sLen > len) return "";
                    return Encoding.BigEndianUnicode.GetString(d, off + sOff, sLen).TrimEnd('\0');
                }
                return "";
            }
        }
        catch (ArgumentOutOfRangeException) { }
        return "";
    }

    /// <summary>Writes the profile to a temporary file (libvips loads output profiles from files); delete it after use.</summary>
    internal string WriteTempFile()
    {
        var p = Path.Combine(Path.GetTempPath(), $"lb-icc-{Guid.NewGuid():N}.icc");
        File.WriteAllBytes(p, Data);
        return p;
    }
}
