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

    /// <summary>A 6000x4000 (24 MP) JPEG, q 92, upscaled from a real photo.</summary>
    public static string Jpeg24Mp(string dir)
    {
        var path = Path.Combine(dir, "bench-24mp.jpg");
        if (File.Exists(path)) return path;
        var src = Directory.GetFiles(Path.Combine(SharedPhotos(), "debian-mate-backgrounds")).Order().First();
        using var img = Image.NewFromFile(src);
        using var big = img.Resize(6000.0 / img.Width, vscale: 4000.0 / img.Height, kernel: Enums.Kernel.Linear);
        big.Jpegsave(path, q: 92);
        return path;
    }

    public static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }
}
