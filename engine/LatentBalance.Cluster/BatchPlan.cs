using LatentBalance.Engine.Imaging;

namespace LatentBalance.Cluster;

/// <summary>
/// Which photos a batch balances and where each goes, worked out by the client before anything is
/// submitted. SRC is a folder (every JPEG, PNG, TIFF and WebP under it, hidden files and DEST left out;
/// each output at the same relative path under DEST) or a manifest (a text file, one path a line, relative
/// to the manifest's folder; outputs DEST/NAME, names must differ). Every path is made absolute: the silos
/// must see the same storage under the same names. An output that is its input is refused, and an existing
/// output unless <c>overwrite</c>.
/// </summary>
public static class BatchPlan
{
    static readonly HashSet<string> Extensions = new(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp" };

    public static List<PhotoItem> Make(string source, string dest, bool overwrite)
    {
        string src = Path.GetFullPath(source), dst = Path.GetFullPath(dest);
        List<PhotoItem> photos;
        if (Directory.Exists(src))
        {
            photos = Directory.EnumerateFiles(src, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System })
                .Where(p => Extensions.Contains(Path.GetExtension(p)) && !Path.GetFileName(p).StartsWith('.'))
                .Where(p => !Inside(p, dst) || Path.TrimEndingDirectorySeparator(dst) == Path.TrimEndingDirectorySeparator(src))
                .Order(StringComparer.Ordinal)
                .Select(p => new PhotoItem(p, Path.Combine(dst, Path.GetRelativePath(src, p))))
                .ToList();
            if (photos.Count == 0) throw new ArgumentException($"{source}: no photos (JPEG, PNG, TIFF, WebP) in this folder");
        }
        else if (File.Exists(src))
        {
            var baseDir = Path.GetDirectoryName(src)!;
            var inputs = File.ReadAllLines(src).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))
                .Select(l => Path.GetFullPath(l, baseDir)).ToList();
            if (inputs.Count == 0) throw new ArgumentException($"{source}: the manifest lists no photos");
            var twice = inputs.GroupBy(Path.GetFileName, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
            if (twice != null) throw new ArgumentException($"{source}: several photos share the file name {twice.Key}; their outputs would collide in {dest}");
            photos = inputs.Select(p => new PhotoItem(p, Path.Combine(dst, Path.GetFileName(p)))).ToList();
        }
        else throw new ArgumentException($"{source}: no such folder or manifest file");

        var itself = photos.FirstOrDefault(p => OutputFiles.SameFile(p.Input, p.Output));
        if (itself != null)
            throw new ArgumentException($"{itself.Output}: the output is the input photo itself; refusing to overwrite the original (choose another DEST)");
        if (!overwrite)
        {
            var existing = photos.Where(p => File.Exists(p.Output)).ToList();
            if (existing.Count > 0)
                throw new ArgumentException($"{existing[0].Output} exists{(existing.Count > 1 ? $" (and {existing.Count - 1} more outputs)" : "")} (pass --overwrite to replace them)");
        }
        return photos;
    }

    static bool Inside(string path, string folder) =>
        path.StartsWith(Path.TrimEndingDirectorySeparator(folder) + Path.DirectorySeparatorChar, StringComparison.Ordinal);
}
