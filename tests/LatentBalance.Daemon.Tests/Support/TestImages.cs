using System.Buffers.Binary;
using NetVips;

namespace LatentBalance.Daemon.Tests.Support;

/// <summary>Small images made by the tests (no photos in git), and broken ones for the error paths.</summary>
public static class TestImages
{
    /// <summary>A smooth gradient with a colour cast (<paramref name="cast"/> multiplies R, G, B); PNG or JPEG by extension.</summary>
    public static string Gradient(string path, int width = 64, int height = 48, double[]? cast = null, int seed = 0)
    {
        cast ??= [1.0, 0.85, 0.6];
        var px = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                double u = (double)x / (width - 1), v = (double)y / (height - 1);
                double[] rgb = [0.2 + 0.6 * u, 0.3 + 0.5 * v, 0.25 + 0.5 * (1 - u) * v + 0.05 * ((seed * 7 + x + y) % 5)];
                for (int c = 0; c < 3; c++) px[(y * width + x) * 3 + c] = (byte)Math.Clamp(Math.Round(255 * rgb[c] * cast[c]), 0, 255);
            }
        using var im = Image.NewFromMemory(px, width, height, 3, Enums.BandFormat.Uchar);
        using var srgb = im.Copy(interpretation: Enums.Interpretation.Srgb);
        srgb.WriteToFile(path);
        return path;
    }

    /// <summary>Mean of each channel (0..255).</summary>
    public static double[] Means(string path)
    {
        using var im = Image.NewFromFile(path);
        using var rgb = im.Bands > 3 ? im.ExtractBand(0, 3) : im;
        return [.. Enumerable.Range(0, 3).Select(c => { using var b = rgb.ExtractBand(c); return b.Avg(); })];
    }

    public static (int Width, int Height) Size(string path)
    {
        using var im = Image.NewFromFile(path);
        return (im.Width, im.Height);
    }

    /// <summary>Mean absolute difference of two images of the same size (0..255).</summary>
    public static double MeanAbsDiff(string a, string b)
    {
        using var ia = Image.NewFromFile(a);
        using var ib = Image.NewFromFile(b);
        using var d = (ia.Cast(Enums.BandFormat.Float) - ib.Cast(Enums.BandFormat.Float)).Abs();
        return d.Avg();
    }

    /// <summary>A file that starts like a JPEG (SOI, APP0) and then is noise.</summary>
    public static string CorruptJpeg(string path)
    {
        var bytes = new byte[4000];
        new Random(3).NextBytes(bytes);
        byte[] head = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, (byte)'J', (byte)'F', (byte)'I', (byte)'F', 0];
        head.CopyTo(bytes, 0);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>A real JPEG cut to a third of its length: the header reads, the pixels do not.</summary>
    public static string TruncatedJpeg(string path)
    {
        var full = Gradient(Path.ChangeExtension(path, ".full.jpg"), 256, 192);
        var bytes = File.ReadAllBytes(full);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 3)]);
        File.Delete(full);
        return path;
    }

    /// <summary>A PNG whose header claims 100000 x 100000 pixels (10 gigapixels), with a valid CRC.</summary>
    public static string AbsurdPng(string path)
    {
        using var ms = new MemoryStream();
        ms.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(0), 100_000);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), 100_000);
        ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
        Chunk(ms, "IHDR", ihdr);
        Chunk(ms, "IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        Chunk(ms, "IEND", []);
        File.WriteAllBytes(path, ms.ToArray());
        return path;
    }

    static void Chunk(Stream s, string type, byte[] data)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(len, (uint)data.Length);
        s.Write(len);
        var typeAndData = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(len, Crc32(typeAndData));
        s.Write(len);
    }

    static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (var b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }
}
