using NetVips;

namespace LatentBalance.Benchmarks;

/// <summary>Benchmark inputs, made on the fly from ../shared photos (never committed).</summary>
static class BenchImages
{
    public static string SharedPhotos()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var p = Path.Combine(d.FullName, "..", "shared", "data", "photos");
            if (File.Exists(Path.Combine(d.FullName, "LatentBalance.sln")) && Directory.Exists(p)) return Path.GetFullPath(p);
        }
        throw new DirectoryNotFoundException("../shared/data/photos not found beside the repository");
    }

    /// <summary>
    /// A 6000x4000 (24 MP) JPEG, q 92, with the detail of a real photo: a 12x8 mosaic of 500x500
    /// crops of real photos at their own resolution (an upscaled photo would be too smooth, and
    /// smooth JPEGs decode and encode several times faster than real ones).
    /// </summary>
    public static string Jpeg24Mp(string dir) => JpegMosaic(dir, 12, 8);

    /// <summary>A JPEG made like <see cref="Jpeg24Mp"/> of <paramref name="across"/> x <paramref name="down"/> crops
    /// (8x6: 12 MP, 12x8: 24 MP, 16x12: 48 MP), of the first BSDS500 photos in name order; kept for the next run.</summary>
    public static string JpegMosaic(string dir, int across, int down)
    {
        double mp = across * down * 0.25;
        var path = Path.Combine(dir, across == 12 && down == 8 ? "bench-24mp-mosaic.jpg" : $"bench-{mp:F0}mp-mosaic.jpg");
        if (File.Exists(path)) return path;
        var sources = Directory.GetFiles(Path.Combine(SharedPhotos(), "bsds500")).Order().Take(across * down).ToList();
        var tiles = sources.Select(p => Image.Thumbnail(p, 500, height: 500, crop: Enums.Interesting.Centre)).ToArray();
        var part = path + $".part-{Environment.ProcessId}.jpg";
        using (var mosaic = Image.Arrayjoin(tiles, across: across)) mosaic.Jpegsave(part, q: 92);
        foreach (var t in tiles) t.Dispose();
        File.Move(part, path, overwrite: true);
        return path;
    }

    /// <summary>
    /// <paramref name="count"/> different 4000x3000 (12 MP) JPEGs, q 92, made like <see cref="Jpeg24Mp"/>: photo i is an
    /// 8x6 mosaic of 500x500 crops of 48 BSDS500 photos drawn by a shuffle seeded with i. Kept in <paramref name="dir"/>
    /// (which holds nothing else, not even a half-written photo) for the next run.
    /// </summary>
    public static string[] Jpeg12MpSet(string dir, int count)
    {
        Directory.CreateDirectory(dir);
        var sources = Directory.GetFiles(Path.Combine(SharedPhotos(), "bsds500"), "*.jpg").Order(StringComparer.Ordinal).ToArray();
        var paths = new string[count];
        for (int i = 0; i < count; i++)
        {
            paths[i] = Path.Combine(dir, $"mosaic-12mp-{i:D3}.jpg");
            if (File.Exists(paths[i])) continue;
            var tiles = (string[])sources.Clone();
            new Random(i).Shuffle(tiles);
            var crops = tiles.Take(48).Select(p => Image.Thumbnail(p, 500, height: 500, crop: Enums.Interesting.Centre)).ToArray();
            var part = Path.Combine(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)))!, $"part-{Environment.ProcessId}.jpg"); // beside, not in, dir
            using (var mosaic = Image.Arrayjoin(crops, across: 8)) mosaic.Jpegsave(part, q: 92);
            foreach (var t in crops) t.Dispose();
            File.Move(part, paths[i]);
        }
        return paths;
    }

    /// <summary>The floor every tool pays: libvips alone loads <paramref name="input"/> and saves it
    /// as a q 95 JPEG (metadata kept), with no processing between.</summary>
    public static void LibvipsLoadSave(string input, string output)
    {
        using var img = Image.NewFromFile(input, access: Enums.Access.Sequential);
        img.Jpegsave(output, q: 95, keep: Enums.ForeignKeep.All);
    }

    public static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }
}
