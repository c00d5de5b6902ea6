namespace LatentBalance.Engine.Imaging;

/// <summary>The kind of a problem with an input or output file.</summary>
public enum FileErrorKind
{
    /// <summary>The path cannot be used as given: no name, a directory, a pipe or device, a link loop,
    /// the input itself as output, an unknown output extension.</summary>
    InvalidPath,
    /// <summary>The file (input) or its folder (output) does not exist, or a link points nowhere.</summary>
    NotFound,
    /// <summary>Reading or writing failed: permissions, a full or read-only disk, an I/O error.</summary>
    AccessFailed,
    /// <summary>The contents are not a usable image: unknown format, corrupt, unsupported layout.</summary>
    BadImage,
}

/// <summary>A problem with one file, of a <see cref="FileErrorKind"/> set where it is raised (the wire code comes from it).</summary>
public abstract class ImageFileException(string path, FileErrorKind kind, string reason, string verb, Exception? inner)
    : Exception($"cannot {verb} '{path}': {reason}", inner)
{
    /// <summary>What kind of problem.</summary>
    public FileErrorKind Kind { get; } = kind;

    /// <summary>The file the problem is about.</summary>
    public string FilePath { get; } = path;

    /// <summary>The reason, without the file name.</summary>
    public string Reason { get; } = reason;
}

/// <summary>An input photo could not be used: missing, not an image, corrupt, too large or of an unsupported layout.</summary>
public sealed class ImageInputException(string path, FileErrorKind kind, string reason, Exception? inner = null)
    : ImageFileException(path, kind, reason, "read image", inner)
{
    public ImageInputException(string path, string reason, Exception? inner = null) : this(path, FileErrorKind.BadImage, reason, inner) { }
}

/// <summary>An output file (a photo, a .cube) could not be written; no output file was left behind.</summary>
public sealed class ImageOutputException(string path, FileErrorKind kind, string reason, Exception? inner = null)
    : ImageFileException(path, kind, reason, "write", inner)
{
    public ImageOutputException(string path, string reason, Exception? inner = null) : this(path, FileErrorKind.AccessFailed, reason, inner) { }
}

static class VipsErrors
{
    /// <summary>A one-line summary of a libvips error (its messages are multi-line and repeat the operation).</summary>
    public static string Describe(Exception e)
    {
        var lines = e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? e.GetType().Name : string.Join("; ", lines.Distinct().Take(4));
    }

    /// <summary>Empties libvips' error buffer (one per process). NetVips empties it when it throws, but a
    /// call that reports failure by its result (vips_foreign_find_load: no loader) leaves its text there,
    /// and the next error of any request would carry it.</summary>
    public static void Clear() => vips_error_clear();

    [System.Runtime.InteropServices.DllImport("libvips.so.42")]
    static extern void vips_error_clear();
}
