using System.Security.Cryptography;
using System.Text;

namespace LatentBalance.Training;

/// <summary>
/// The fixed train/validation split: a file belongs to validation by a hash of its path relative
/// to the data folder, so the split never changes with the machine, the order of files or the
/// number of photos added later. 10% of the photos and a third of the LUTs are held out.
/// </summary>
public static class DataSplit
{
    public static readonly string[] PhotoExtensions = [".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"];

    public static bool IsValidationPhoto(string relativePath) => Bucket(relativePath, 10) == 0;

    public static bool IsValidationLut(string relativePath) => Bucket(relativePath, 3) == 0;

    /// <summary>All photos under a folder (recursive, sorted), split in two.</summary>
    public static (List<string> Train, List<string> Validation) Photos(string folder)
    {
        var all = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(p => PhotoExtensions.Contains(Path.GetExtension(p).ToLowerInvariant()))
            .OrderBy(p => p, StringComparer.Ordinal).ToList();
        return Partition(all, folder, IsValidationPhoto);
    }

    /// <summary>All .cube files in a folder (sorted), split in two.</summary>
    public static (List<string> Train, List<string> Validation) Luts(string folder)
    {
        var all = Directory.EnumerateFiles(folder)
            .Where(p => Path.GetExtension(p).Equals(".cube", StringComparison.OrdinalIgnoreCase))
            .OrderBy(p => p, StringComparer.Ordinal).ToList();
        return Partition(all, folder, IsValidationLut);
    }

    static (List<string>, List<string>) Partition(List<string> all, string root, Func<string, bool> isVal)
    {
        var train = new List<string>();
        var val = new List<string>();
        foreach (var p in all)
            (isVal(Relative(root, p)) ? val : train).Add(p);
        return (train, val);
    }

    static string Relative(string root, string path) => Path.GetRelativePath(root, path).Replace('\\', '/');

    static int Bucket(string key, int n)
    {
        var h = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        return (int)(BitConverter.ToUInt32(h, 0) % (uint)n);
    }
}
