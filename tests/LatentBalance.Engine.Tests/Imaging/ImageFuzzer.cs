using System.Buffers.Binary;
using NetVips;

namespace LatentBalance.Engine.Tests.Imaging;

/// <summary>One mutated image: what it was made from, how, and its bytes.</summary>
public sealed record FuzzCase(int Index, string Format, string Seed, string Mutation, string Extension, byte[] Bytes)
{
    /// <summary>A file name that says what the case is (safe on every file system).</summary>
    public string FileName => $"{Index:D4}-{Seed}-{Mutation}.{Extension}";

    /// <summary>The mutation's family: control, truncate, bitflip, bytes, header (format-aware edits).</summary>
    public string Class => Mutation.Split('-')[0] switch
    {
        "control" => "control",
        "trunc" => "truncate",
        "flip" => "bitflip",
        "zero" or "ff" or "splice" or "append" => "bytes",
        _ => "header",
    };
}

/// <summary>
/// A seeded, deterministic generator of broken images for fuzzing: small valid seed images of each
/// format (JPEG, PNG, TIFF, WebP, made here with libvips from generated pixels, nothing read from disk),
/// then truncations at several points, random bit flips, byte-block damage and format-aware header
/// edits: JPEG markers and segment fields, PNG chunks (with and without a fixed CRC), TIFF IFD entries,
/// WebP RIFF and chunk sizes and frame headers. The same seed and count give the same cases, byte for
/// byte, on the same libvips build. Each round applies every operator of every format once, to a seed
/// image that rotates from round to round; formats are interleaved so that any prefix covers all four.
/// </summary>
public static class ImageFuzzer
{
    public sealed record SeedImage(string Name, string Format, string Extension, byte[] Bytes);

    delegate byte[]? Mutator(byte[] bytes, Random rng);

    /// <summary>The cases for <paramref name="seed"/>, the first <paramref name="count"/> of them.</summary>
    public static IEnumerable<FuzzCase> Generate(int seed, int count)
    {
        var seeds = Seeds();
        var formats = new[] { "jpeg", "png", "tiff", "webp" };
        var ops = formats.ToDictionary(f => f, f => Generic.Concat(f switch
        {
            "jpeg" => Jpeg, "png" => Png, "tiff" => Tiff, _ => Webp,
        }).ToArray());
        int index = 0;
        for (int round = 0; index < count; round++)
        {
            var perFormat = formats.Select(f =>
            {
                var mine = seeds.Where(s => s.Format == f).ToArray();
                var order = ops[f].Select((op, k) => (op, k)).ToArray();
                new Random(Stable(seed, round, f, "order", "")).Shuffle(order);
                return order.Select(o => (Format: f, Seed: mine[(round + o.k) % mine.Length], o.op.Name, o.op.Run, OpIndex: o.k)).ToList();
            }).ToArray();
            int longest = perFormat.Max(l => l.Count);
            for (int i = 0; i < longest && index < count; i++)
                foreach (var list in perFormat)
                {
                    if (i >= list.Count || index >= count) continue;
                    var c = list[i];
                    var rng = new Random(Stable(seed, round, c.Format, c.Name, c.Seed.Name));
                    var bytes = c.Run((byte[])c.Seed.Bytes.Clone(), rng);
                    if (bytes == null) continue; // not applicable to this seed (e.g. no PLTE chunk)
                    // the extension matches the contents, except in control-wrong-ext (a valid image named as another format)
                    var ext = c.Name == "control-wrong-ext" ? OtherExtension(c.Seed.Extension, rng) : c.Seed.Extension;
                    yield return new FuzzCase(index++, c.Format, c.Seed.Name, c.Name, ext, bytes);
                }
        }
    }

    static int Stable(int seed, int round, string a, string b, string c)
    {
        // string.GetHashCode and HashCode.Combine are randomised per process; this must be the same in every run
        uint h = 2166136261;
        foreach (var ch in $"{seed}/{round}/{a}/{b}/{c}") h = (h ^ ch) * 16777619;
        return (int)(h & 0x7fffffff);
    }

    static string OtherExtension(string ext, Random rng)
    {
        var all = new[] { "jpg", "png", "tif", "webp" }.Where(e => e != ext).ToArray();
        return all[rng.Next(all.Length)];
    }

    static IReadOnlyList<SeedImage>? _seeds;

    /// <summary>The valid images every case starts from: 48x32, with a gradient and noise.</summary>
    public static IReadOnlyList<SeedImage> Seeds()
    {
        if (_seeds != null) return _seeds;
        const int w = 48, h = 32;
        var rng = new Random(12345);
        var px = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int o = (y * w + x) * 3;
                px[o] = (byte)Math.Clamp(x * 5 + rng.Next(-12, 13), 0, 255);
                px[o + 1] = (byte)Math.Clamp(y * 7 + rng.Next(-12, 13), 0, 255);
                px[o + 2] = (byte)Math.Clamp(200 - x * 2 - y * 2 + rng.Next(-12, 13), 0, 255);
            }
        using var rgb = Image.NewFromMemory(px, w, h, 3, Enums.BandFormat.Uchar);
        using var grey = rgb.Colourspace(Enums.Interpretation.Bw);
        using var alpha8 = (Image.Black(w, h) + 180).Cast(Enums.BandFormat.Uchar);
        using var rgba = rgb.Bandjoin(alpha8);
        using var rgb16 = (rgb.Cast(Enums.BandFormat.Ushort) * 257).Cast(Enums.BandFormat.Ushort).Copy(interpretation: Enums.Interpretation.Rgb16);
        using var alpha16 = (Image.Black(w, h) + 50000).Cast(Enums.BandFormat.Ushort);
        using var rgba16 = rgb16.Bandjoin(alpha16);
        using var rgbFloat = (rgb.Cast(Enums.BandFormat.Float) / 255.0).Cast(Enums.BandFormat.Float);
        var none = Enums.ForeignKeep.None;
        _seeds =
        [
            new("jpeg-baseline", "jpeg", "jpg", rgb.JpegsaveBuffer(q: 85, keep: none)),
            new("jpeg-progressive", "jpeg", "jpg", rgb.JpegsaveBuffer(q: 90, interlace: true, keep: none)),
            new("jpeg-grey", "jpeg", "jpg", grey.JpegsaveBuffer(q: 80, keep: none)),
            new("png-rgb8", "png", "png", rgb.PngsaveBuffer(keep: none)),
            new("png-rgba16", "png", "png", rgba16.PngsaveBuffer(keep: none)),
            new("png-palette", "png", "png", rgb.PngsaveBuffer(palette: true, keep: none)),
            new("png-interlaced", "png", "png", rgba.PngsaveBuffer(interlace: true, keep: none)),
            new("tiff-rgb8", "tiff", "tif", rgb.TiffsaveBuffer(compression: Enums.ForeignTiffCompression.None, keep: none)),
            new("tiff-rgb16-lzw", "tiff", "tif", rgb16.TiffsaveBuffer(compression: Enums.ForeignTiffCompression.Lzw, predictor: Enums.ForeignTiffPredictor.Horizontal, keep: none)),
            new("tiff-float", "tiff", "tif", rgbFloat.TiffsaveBuffer(compression: Enums.ForeignTiffCompression.Deflate, keep: none)),
            new("tiff-tiled", "tiff", "tif", rgba.TiffsaveBuffer(compression: Enums.ForeignTiffCompression.Deflate, tile: true, tileWidth: 16, tileHeight: 16, keep: none)),
            new("webp-lossy", "webp", "webp", rgb.WebpsaveBuffer(q: 80, keep: none)),
            new("webp-lossless-alpha", "webp", "webp", rgba.WebpsaveBuffer(lossless: true, keep: none)),
        ];
        return _seeds;
    }

    // ---- every format -------------------------------------------------------------------------

    static readonly (string Name, Mutator Run)[] Generic =
    [
        ("control", (b, _) => b),
        ("control-wrong-ext", (b, _) => b),
        ("trunc-empty", (_, _) => []),
        ("trunc-header", (b, r) => b[..r.Next(1, Math.Min(64, b.Length))]),
        ("trunc-25", (b, _) => b[..(b.Length / 4)]),
        ("trunc-50", (b, _) => b[..(b.Length / 2)]),
        ("trunc-75", (b, _) => b[..(b.Length * 3 / 4)]),
        ("trunc-95", (b, _) => b[..(b.Length * 95 / 100)]),
        ("trunc-last1", (b, _) => b[..^1]),
        ("trunc-last16", (b, _) => b[..^16]),
        ("flip-1", (b, r) => Flip(b, r, 1, b.Length)),
        ("flip-8", (b, r) => Flip(b, r, 8, b.Length)),
        ("flip-64", (b, r) => Flip(b, r, 64, b.Length)),
        ("flip-head4", (b, r) => Flip(b, r, 4, Math.Min(b.Length, 128))),
        ("zero-block", (b, r) => Fill(b, r, 0x00)),
        ("ff-block", (b, r) => Fill(b, r, 0xFF)),
        ("splice", (b, r) =>
        {
            int n = r.Next(8, 65), from = r.Next(b.Length - n), to = r.Next(b.Length - n);
            Array.Copy(b, from, b, to, n);
            return b;
        }),
        ("append-garbage", (b, r) =>
        {
            var g = new byte[r.Next(16, 2048)];
            r.NextBytes(g);
            return [.. b, .. g];
        }),
    ];

    static byte[] Flip(byte[] b, Random r, int bits, int within)
    {
        for (int i = 0; i < bits; i++) b[r.Next(within)] ^= (byte)(1 << r.Next(8));
        return b;
    }

    static byte[] Fill(byte[] b, Random r, byte v)
    {
        int n = r.Next(16, 65), at = r.Next(Math.Max(1, b.Length - n));
        Array.Fill(b, v, at, Math.Min(n, b.Length - at));
        return b;
    }

    static T Pick<T>(Random r, params T[] xs) => xs[r.Next(xs.Length)];

    // ---- JPEG: markers and segments -----------------------------------------------------------

    /// <summary>Marker segments before the entropy-coded data: (marker, offset of the 0xFF, length field).</summary>
    static List<(byte Marker, int At, int Length)> JpegSegments(byte[] b)
    {
        var list = new List<(byte, int, int)>();
        int p = 2;
        while (p + 4 <= b.Length && b[p] == 0xFF)
        {
            byte m = b[p + 1];
            int len = BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(p + 2));
            list.Add((m, p, len));
            if (m == 0xDA) break; // SOS: the scan data follows
            p += 2 + len;
        }
        return list;
    }

    static int? Segment(byte[] b, params byte[] markers)
    {
        foreach (var s in JpegSegments(b)) if (markers.Contains(s.Marker)) return s.At;
        return null;
    }

    static byte[]? AtSof(byte[] b, Func<int, byte[]?> edit) => Segment(b, 0xC0, 0xC1, 0xC2) is int at ? edit(at) : null;

    static byte[] Remove(byte[] b, int at, int length) => [.. b.AsSpan(0, at), .. b.AsSpan(at + length)];
    static byte[] Insert(byte[] b, int at, byte[] what) => [.. b.AsSpan(0, at), .. what, .. b.AsSpan(at)];

    static readonly (string Name, Mutator Run)[] Jpeg =
    [
        // SOF: FF Cx len(2) precision(1) height(2) width(2) ncomp(1) {id, sampling, qtable}*
        ("sof-width", (b, r) => AtSof(b, at => { BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(at + 7), Pick<ushort>(r, 0, 1, 65535)); return b; })),
        ("sof-height", (b, r) => AtSof(b, at => { BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(at + 5), Pick<ushort>(r, 0, 1, 65535)); return b; })),
        ("sof-huge", (b, _) => AtSof(b, at => { BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(at + 5), 65500); BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(at + 7), 65500); return b; })),
        ("sof-precision", (b, r) => AtSof(b, at => { b[at + 4] = Pick<byte>(r, 0, 1, 12, 16, 255); return b; })),
        ("sof-components", (b, r) => AtSof(b, at => { b[at + 9] = Pick<byte>(r, 0, 2, 4, 255); return b; })),
        ("sof-sampling", (b, r) => AtSof(b, at => { b[at + 11] = Pick<byte>(r, 0x00, 0x0F, 0xF1, 0x33, 0x44); return b; })),
        ("sof-qtable", (b, r) => AtSof(b, at => { b[at + 12] = Pick<byte>(r, 3, 4, 200); return b; })),
        ("sof-type", (b, r) => AtSof(b, at => { b[at + 1] = Pick<byte>(r, 0xC3, 0xC5, 0xC9, 0xCF, 0xC1); return b; })),
        ("sof-length", (b, r) => AtSof(b, at => { BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(at + 2), Pick<ushort>(r, 0, 2, 8, 0xFFFF)); return b; })),
        ("seg-length", (b, r) =>
        {
            var segs = JpegSegments(b);
            var s = segs[r.Next(segs.Count)];
            BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(s.At + 2), (ushort)Math.Clamp(s.Length + Pick(r, -3, -1, 1, 7, 1000, -s.Length, 0xFFFF), 0, 0xFFFF));
            return b;
        }),
        ("drop-dqt", (b, _) => Segment(b, 0xDB) is int at ? Remove(b, at, 2 + BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(at + 2))) : null),
        ("drop-dht", (b, _) => Segment(b, 0xC4) is int at ? Remove(b, at, 2 + BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(at + 2))) : null),
        ("drop-sof", (b, _) => AtSof(b, at => Remove(b, at, 2 + BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(at + 2))))),
        ("dup-sof", (b, _) => AtSof(b, at => Insert(b, at, b[at..(at + 2 + BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(at + 2)))]))),
        ("drop-eoi", (b, _) => b.Length > 2 && b[^2] == 0xFF && b[^1] == 0xD9 ? b[..^2] : null),
        ("dqt-zero", (b, _) => Segment(b, 0xDB) is int at ? Fill0(b, at + 5, 64) : null),
        ("dht-garbage", (b, r) =>
        {
            if (Segment(b, 0xC4) is not int at) return null;
            for (int i = 0; i < 16; i++) b[at + 5 + i] = (byte)r.Next(256); // the code counts per length
            return b;
        }),
        ("sos-components", (b, r) => Segment(b, 0xDA) is int at ? Set(b, at + 4, Pick<byte>(r, 0, 2, 4, 9)) : null),
        ("scan-markers", (b, r) =>
        {
            // stray markers inside the entropy-coded data: restart markers, a second SOI, an early EOI
            if (Segment(b, 0xDA) is not int at) return null;
            int start = at + 2 + BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(at + 2));
            if (start >= b.Length - 8) return null;
            int p = r.Next(start, b.Length - 4);
            return Insert(b, p, [0xFF, Pick<byte>(r, 0xD0, 0xD3, 0xD8, 0xD9, 0xC0, 0xDA)]);
        }),
        ("app-exif-garbage", (b, r) =>
        {
            // an APP1 Exif segment whose TIFF structure is noise (libvips parses it with libexif)
            var g = new byte[r.Next(8, 200)];
            r.NextBytes(g);
            byte[] body = [.. "Exif\0\0"u8, .. (r.Next(2) == 0 ? "II*\0"u8.ToArray() : "MM\0*"u8.ToArray()), .. g];
            var seg = new byte[4 + body.Length];
            seg[0] = 0xFF; seg[1] = 0xE1;
            BinaryPrimitives.WriteUInt16BigEndian(seg.AsSpan(2), (ushort)(body.Length + 2));
            body.CopyTo(seg, 4);
            return Insert(b, 2, seg);
        }),
    ];

    static byte[] Fill0(byte[] b, int at, int n) { Array.Fill<byte>(b, 0, at, Math.Min(n, b.Length - at)); return b; }
    static byte[] Set(byte[] b, int at, byte v) { b[at] = v; return b; }

    // ---- PNG: chunks ----------------------------------------------------------------------------

    /// <summary>Chunks: (offset of the length field, data length, type).</summary>
    static List<(int At, int Length, string Type)> PngChunks(byte[] b)
    {
        var list = new List<(int, int, string)>();
        int p = 8;
        while (p + 12 <= b.Length)
        {
            int len = (int)BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(p));
            var type = System.Text.Encoding.ASCII.GetString(b, p + 4, 4);
            list.Add((p, len, type));
            if (len < 0 || p + 12L + len > b.Length) break;
            p += 12 + len;
        }
        return list;
    }

    static void FixCrc(byte[] b, int at)
    {
        int len = (int)BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(at));
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(at + 8 + len), Crc32(b.AsSpan(at + 4, 4 + len)));
    }

    static byte[]? Chunk(byte[] b, string type, bool fixCrc, Func<int, int, byte[]?> edit)
    {
        foreach (var c in PngChunks(b))
            if (c.Type == type)
            {
                var result = edit(c.At, c.Length);
                if (result != null && fixCrc) FixCrc(result, c.At);
                return result;
            }
        return null;
    }

    static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    /// <summary>PNG's CRC-32 (ISO 3309) of <paramref name="data"/>.</summary>
    static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFFu;
        foreach (var x in data) c = CrcTable[(c ^ x) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }

    static byte[] NewChunk(string type, byte[] data)
    {
        var c = new byte[12 + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(c, (uint)data.Length);
        System.Text.Encoding.ASCII.GetBytes(type).CopyTo(c, 4);
        data.CopyTo(c, 8);
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(8 + data.Length), Crc32(c.AsSpan(4, 4 + data.Length)));
        return c;
    }

    static IEnumerable<(string, Mutator)> BothCrcs(string name, Func<byte[], Random, bool, byte[]?> run) =>
        [(name + "-crcfixed", (b, r) => run(b, r, true)), (name + "-badcrc", (b, r) => run(b, r, false))];

    static readonly (string Name, Mutator Run)[] Png =
    [
        // IHDR: width(4) height(4) depth(1) colour type(1) compression(1) filter(1) interlace(1)
        .. BothCrcs("ihdr-width", (b, r, fix) => Chunk(b, "IHDR", fix, (at, _) => { BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(at + 8), Pick(r, 0u, 1u, 65535u, 0x7FFFFFFFu, 0x80000000u)); return b; })),
        .. BothCrcs("ihdr-height", (b, r, fix) => Chunk(b, "IHDR", fix, (at, _) => { BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(at + 12), Pick(r, 0u, 1u, 100000u, 0x7FFFFFFFu)); return b; })),
        .. BothCrcs("ihdr-depth", (b, r, fix) => Chunk(b, "IHDR", fix, (at, _) => Set(b, at + 16, Pick<byte>(r, 0, 1, 3, 4, 16, 32, 255)))),
        .. BothCrcs("ihdr-colour", (b, r, fix) => Chunk(b, "IHDR", fix, (at, _) => Set(b, at + 17, Pick<byte>(r, 0, 1, 2, 3, 4, 5, 6, 7, 255)))),
        .. BothCrcs("ihdr-methods", (b, r, fix) => Chunk(b, "IHDR", fix, (at, _) => Set(b, at + 18 + r.Next(3), Pick<byte>(r, 1, 2, 255)))),
        .. BothCrcs("ihdr-length", (b, r, fix) => Chunk(b, "IHDR", fix, (at, _) => { BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(at), Pick(r, 0u, 12u, 14u)); return b; })),
        .. BothCrcs("idat-flip", (b, r, fix) => Chunk(b, "IDAT", fix, (at, len) => FlipRange(b, r, at + 8, len))),
        .. BothCrcs("idat-short", (b, r, fix) => Chunk(b, "IDAT", fix, (at, len) =>
        {
            // the chunk keeps its own length field but loses data: zlib stream ends early
            int keep = r.Next(0, len);
            var cut = Remove(b, at + 8 + keep, len - keep);
            BinaryPrimitives.WriteUInt32BigEndian(cut.AsSpan(at), (uint)keep);
            return cut;
        })),
        .. BothCrcs("plte-length", (b, r, fix) => Chunk(b, "PLTE", fix, (at, len) => { BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(at), (uint)Math.Max(0, len + Pick(r, -3, -1, 1, 3, 769))); return b; })),
        .. BothCrcs("chunk-type", (b, r, fix) =>
        {
            var cs = PngChunks(b);
            var c = cs[r.Next(cs.Count)];
            b[c.At + 4 + r.Next(4)] ^= 0x20; // flips a case bit: critical <-> ancillary, public <-> private
            if (fix) FixCrc(b, c.At);
            return b;
        }),
        ("chunk-length", (b, r) =>
        {
            var cs = PngChunks(b);
            var c = cs[r.Next(cs.Count)];
            BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(c.At), Pick(r, 0u, (uint)c.Length + 1, (uint)Math.Max(0, c.Length - 1), 0x7FFFFFFFu, 0xFFFFFFFFu));
            return b;
        }),
        ("drop-iend", (b, _) => Chunk(b, "IEND", false, (at, _) => b[..at])),
        ("drop-idat", (b, _) => Chunk(b, "IDAT", false, (at, len) => Remove(b, at, 12 + len))),
        ("drop-plte", (b, _) => Chunk(b, "PLTE", false, (at, len) => Remove(b, at, 12 + len))),
        ("dup-ihdr", (b, _) => Chunk(b, "IHDR", false, (at, len) => Insert(b, at + 12 + len, b[at..(at + 12 + len)]))),
        ("unknown-critical", (b, r) => Chunk(b, "IDAT", false, (at, _) => Insert(b, at, NewChunk(Pick(r, "ABCD", "IDAx", "QQQQ"), new byte[r.Next(0, 64)])))),
        ("trns-garbage", (b, r) => Chunk(b, "IDAT", false, (at, _) => { var d = new byte[r.Next(1, 300)]; r.NextBytes(d); return Insert(b, at, NewChunk("tRNS", d)); })),
        ("iccp-garbage", (b, r) => Chunk(b, "IDAT", false, (at, _) =>
        {
            // an embedded profile that is not one: a name, deflate method 0, then noise
            var d = new byte[r.Next(8, 300)];
            r.NextBytes(d);
            return Insert(b, at, NewChunk("iCCP", [.. "icc\0\0"u8, .. d]));
        })),
    ];

    static byte[] FlipRange(byte[] b, Random r, int from, int len)
    {
        if (len <= 0) return b;
        for (int i = 0, n = Pick(r, 1, 4, 16); i < n; i++) b[from + r.Next(len)] ^= (byte)(1 << r.Next(8));
        return b;
    }

    // ---- TIFF: the first IFD --------------------------------------------------------------------

    sealed record Ifd(bool Little, int At, int Count);

    static Ifd? FirstIfd(byte[] b)
    {
        if (b.Length < 8) return null;
        bool le = b[0] == (byte)'I';
        int at = (int)U32(b, 4, le);
        if (at < 8 || at + 2 > b.Length) return null;
        return new Ifd(le, at, U16(b, at, le));
    }

    static ushort U16(byte[] b, int at, bool le) => le ? BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at)) : BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(at));
    static uint U32(byte[] b, int at, bool le) => le ? BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at)) : BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(at));
    static void W16(byte[] b, int at, bool le, ushort v) { if (le) BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(at), v); else BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(at), v); }
    static void W32(byte[] b, int at, bool le, uint v) { if (le) BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v); else BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(at), v); }

    static int TypeSize(ushort type) => type switch { 1 or 2 or 6 or 7 => 1, 3 or 8 => 2, 4 or 9 or 11 or 13 => 4, 5 or 10 or 12 => 8, _ => 1 };

    /// <summary>Sets the (first) value of <paramref name="tag"/> in the first IFD, in place or at its offset.</summary>
    static byte[]? TiffTag(byte[] b, ushort tag, uint value)
    {
        if (FirstIfd(b) is not { } ifd) return null;
        for (int i = 0; i < ifd.Count; i++)
        {
            int e = ifd.At + 2 + 12 * i;
            if (e + 12 > b.Length) return null;
            if (U16(b, e, ifd.Little) != tag) continue;
            ushort type = U16(b, e + 2, ifd.Little);
            long bytes = (long)U32(b, e + 4, ifd.Little) * TypeSize(type);
            int where = bytes <= 4 ? e + 8 : (int)U32(b, e + 8, ifd.Little);
            if (where < 0 || where + 4 > b.Length) return null;
            if (type == 3) W16(b, where, ifd.Little, (ushort)Math.Min(value, 0xFFFF)); else W32(b, where, ifd.Little, value);
            return b;
        }
        return null;
    }

    static byte[]? TiffEntry(byte[] b, ushort tag, Action<int, Ifd> edit)
    {
        if (FirstIfd(b) is not { } ifd) return null;
        for (int i = 0; i < ifd.Count; i++)
        {
            int e = ifd.At + 2 + 12 * i;
            if (e + 12 > b.Length) return null;
            if (U16(b, e, ifd.Little) == tag) { edit(e, ifd); return b; }
        }
        return null;
    }

    static (string, Mutator) Tag(string name, ushort tag, params uint[] values) => ("ifd-" + name, (b, r) => TiffTag(b, tag, Pick(r, values)));

    static readonly (string Name, Mutator Run)[] Tiff =
    [
        Tag("width", 256, 0, 1, 65535, 0xFFFFFFFF),
        Tag("height", 257, 0, 1, 100000, 0xFFFFFFFF),
        Tag("bits", 258, 0, 1, 7, 12, 24, 64, 65535),
        Tag("compression", 259, 0, 2, 6, 7, 34712, 50000, 65535),
        Tag("photometric", 262, 0, 1, 3, 4, 5, 6, 8, 32844, 65535),
        Tag("strip-offsets", 273, 0, 4, 0x7FFFFFFF, 0xFFFFFFFF),
        Tag("samples", 277, 0, 1, 2, 5, 64, 65535),
        Tag("rows-per-strip", 278, 0, 1, 0xFFFFFFFF),
        Tag("strip-counts", 279, 0, 1, 0x7FFFFFFF),
        Tag("planar", 284, 0, 2, 3),
        Tag("predictor", 317, 0, 2, 3, 9),
        Tag("tile-size", 322, 0, 1, 15, 65535),
        Tag("tile-offsets", 324, 0, 0x7FFFFFFF),
        Tag("sample-format", 339, 0, 2, 3, 4, 6),
        ("ifd-offset", (b, r) => FirstIfd(b) is { } ifd ? Do(() => W32(b, 4, ifd.Little, Pick(r, 0u, 1u, 7u, (uint)b.Length, (uint)b.Length - 1, 0xFFFFFFFFu)), b) : null),
        ("ifd-count", (b, r) => FirstIfd(b) is { } ifd ? Do(() => W16(b, ifd.At, ifd.Little, Pick<ushort>(r, 0, 1, (ushort)(ifd.Count + 1), 0xFFFF)), b) : null),
        ("ifd-loop", (b, _) =>
        {
            // the next-IFD pointer leads back to the first IFD: a reader that follows it never stops
            if (FirstIfd(b) is not { } ifd || ifd.At + 2 + 12 * ifd.Count + 4 > b.Length) return null;
            W32(b, ifd.At + 2 + 12 * ifd.Count, ifd.Little, (uint)ifd.At);
            return b;
        }),
        ("ifd-entry-type", (b, r) => FirstIfd(b) is { Count: > 0 } ifd ? Do(() => W16(b, ifd.At + 2 + 12 * r.Next(ifd.Count) + 2, ifd.Little, Pick<ushort>(r, 0, 2, 5, 12, 13, 99)), b) : null),
        ("ifd-entry-count", (b, r) => FirstIfd(b) is { Count: > 0 } ifd ? Do(() => W32(b, ifd.At + 2 + 12 * r.Next(ifd.Count) + 4, ifd.Little, Pick(r, 0u, 2u, 1000u, 0x10000000u, 0xFFFFFFFFu)), b) : null),
        ("ifd-strip-offsets-count", (b, r) => TiffEntry(b, 273, (e, ifd) => W32(b, e + 4, ifd.Little, Pick(r, 0u, 1000u, 0x20000000u)))),
        ("ifd-byte-order", (b, _) => { b[0] = b[1] = b[0] == (byte)'I' ? (byte)'M' : (byte)'I'; return b; }),
        ("ifd-magic", (b, r) => { W16(b, 2, b[0] == (byte)'I', Pick<ushort>(r, 43, 0, 0x2B00)); return b; }),
    ];

    static byte[] Do(Action a, byte[] b) { a(); return b; }

    // ---- WebP: RIFF container and frame headers ------------------------------------------------

    /// <summary>The first chunk after "RIFF size WEBP": (offset of its fourcc, its size, its fourcc).</summary>
    static (int At, int Size, string FourCc)? WebpFirst(byte[] b) =>
        b.Length < 20 ? null : (12, (int)BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(16)), System.Text.Encoding.ASCII.GetString(b, 12, 4));

    static (int At, string FourCc)? WebpChunk(byte[] b, params string[] fourccs)
    {
        int p = 12;
        while (p + 8 <= b.Length)
        {
            var cc = System.Text.Encoding.ASCII.GetString(b, p, 4);
            if (fourccs.Contains(cc)) return (p, cc);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(p + 4));
            p += 8 + (int)Math.Min(size + (size & 1), int.MaxValue - 16);
        }
        return null;
    }

    static readonly (string Name, Mutator Run)[] Webp =
    [
        ("riff-size", (b, r) => { BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), Pick(r, 0u, 4u, (uint)b.Length - 9, (uint)b.Length + 100, 0xFFFFFFFFu)); return b; }),
        ("riff-fourcc", (b, r) => { b[8 + r.Next(4)] ^= 0x01; return b; }),
        ("chunk-size", (b, r) => WebpFirst(b) is { } c ? Do(() => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(c.At + 4), Pick(r, 0u, 1u, (uint)Math.Max(0, c.Size - 7), (uint)c.Size + 1, (uint)c.Size + 1000, 0xFFFFFFF0u)), b) : null),
        ("chunk-fourcc", (b, r) => WebpFirst(b) is { } c ? Do(() => System.Text.Encoding.ASCII.GetBytes(Pick(r, "VP8 ", "VP8L", "VP8X", "ALPH", "XXXX")).CopyTo(b, c.At), b) : null),
        ("vp8-size", (b, r) => WebpChunk(b, "VP8 ") is { } c && c.At + 18 <= b.Length
            ? Do(() => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(c.At + 8 + 6 + 2 * r.Next(2)), Pick<ushort>(r, 0, 1, 0x3FFF, 0xFFFF)), b) : null),
        ("vp8-start-code", (b, r) => WebpChunk(b, "VP8 ") is { } c && c.At + 14 <= b.Length ? Do(() => b[c.At + 8 + 3 + r.Next(3)] ^= 0x10, b) : null),
        ("vp8-partition", (b, r) => WebpChunk(b, "VP8 ") is { } c && c.At + 11 <= b.Length
            ? Do(() => { b[c.At + 8] = (byte)r.Next(256); b[c.At + 9] = (byte)r.Next(256); b[c.At + 10] = (byte)r.Next(256); }, b) : null),
        ("vp8l-size", (b, r) => WebpChunk(b, "VP8L") is { } c && c.At + 13 <= b.Length
            ? Do(() => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(c.At + 9), Pick(r, 0u, 0xFFFFFFFFu, 0x0FFFFFFFu, (uint)r.Next()) ), b) : null),
        ("vp8l-signature", (b, r) => WebpChunk(b, "VP8L") is { } c && c.At + 9 <= b.Length ? Do(() => b[c.At + 8] = Pick<byte>(r, 0x00, 0x2E, 0xFF), b) : null),
        ("vp8x-canvas", (b, r) =>
        {
            // an extended-format header whose canvas is not the frame's size (inserted when there is none)
            var canvas = new byte[10];
            canvas[0] = (byte)Pick(r, 0x00, 0x10, 0x02, 0xFF);
            uint w = Pick(r, 0u, 47u, 1000u, 0xFFFFFFu), h = Pick(r, 0u, 31u, 1000u, 0xFFFFFFu);
            canvas[4] = (byte)w; canvas[5] = (byte)(w >> 8); canvas[6] = (byte)(w >> 16);
            canvas[7] = (byte)h; canvas[8] = (byte)(h >> 8); canvas[9] = (byte)(h >> 16);
            byte[] chunk = [.. "VP8X"u8, 10, 0, 0, 0, .. canvas];
            var res = WebpChunk(b, "VP8X") is { } x ? [.. b.AsSpan(0, x.At), .. chunk, .. b.AsSpan(x.At + 18)] : Insert(b, 12, chunk);
            BinaryPrimitives.WriteUInt32LittleEndian(res.AsSpan(4), (uint)res.Length - 8);
            return res;
        }),
        ("extra-chunk", (b, r) =>
        {
            // an ICCP, EXIF or unknown chunk of noise after the image data, RIFF size updated
            var d = new byte[r.Next(1, 200)];
            r.NextBytes(d);
            byte[] chunk = [.. System.Text.Encoding.ASCII.GetBytes(Pick(r, "ICCP", "EXIF", "XMP ", "ANMF", "ZZZZ")), .. BitConverter.GetBytes((uint)d.Length), .. d, .. (d.Length % 2 == 1 ? new byte[1] : [])];
            var res = (byte[])[.. b, .. chunk];
            BinaryPrimitives.WriteUInt32LittleEndian(res.AsSpan(4), (uint)res.Length - 8);
            return res;
        }),
    ];
}
