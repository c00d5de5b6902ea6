using LatentBalance.Engine.Tests;

namespace LatentBalance.Cluster.Tests.Support;

/// <summary>Batches of real photos (../shared's bsds500, reused under new names when more are asked for)
/// in a folder tree: SRC/partK/pNNNN.jpg.</summary>
public static class TestPhotos
{
    public static string[] Bsds => Directory.GetFiles(Path.Combine(TestPaths.Photos, "bsds500"), "*.jpg").Order(StringComparer.Ordinal).ToArray();

    public static List<string> Make(string src, int count)
    {
        var photos = Bsds;
        var made = new List<string>();
        for (int i = 0; i < count; i++)
        {
            var p = Path.Combine(src, $"part{i % 3}", $"p{i:D4}.jpg");
            Directory.CreateDirectory(Path.GetDirectoryName(p)!);
            File.Copy(photos[i % photos.Length], p);
            made.Add(p);
        }
        return made;
    }

    /// <summary>Leftovers of unfinished writes: the service's hidden staged names (".NAME.lb-XXXXXXXX.EXT").</summary>
    public static string[] Staged(string dest) =>
        Directory.Exists(dest) ? Directory.GetFiles(dest, ".*.lb-*", SearchOption.AllDirectories) : [];

    public static int EnvInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out var n) && n > 0 ? n : fallback;
}
