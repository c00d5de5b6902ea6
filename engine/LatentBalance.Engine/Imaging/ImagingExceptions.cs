namespace LatentBalance.Engine.Imaging;

/// <summary>An input photo could not be used: missing, not an image, corrupt, too large or of an unsupported layout.</summary>
public sealed class ImageInputException : Exception
{
    public ImageInputException(string path, string reason, Exception? inner = null)
        : base($"cannot read image '{path}': {reason}", inner)
    {
        FilePath = path;
        Reason = reason;
    }

    /// <summary>The file the problem is about.</summary>
    public string FilePath { get; }

    /// <summary>The reason, without the file name.</summary>
    public string Reason { get; }
}

/// <summary>An output image could not be written; no output file was left behind.</summary>
public sealed class ImageOutputException : Exception
{
    public ImageOutputException(string path, string reason, Exception? inner = null)
        : base($"cannot write image '{path}': {reason}", inner)
    {
        FilePath = path;
        Reason = reason;
    }

    public string FilePath { get; }
    public string Reason { get; }
}

static class VipsErrors
{
    /// <summary>A one-line summary of a libvips error (its messages are multi-line and repeat the operation).</summary>
    public static string Describe(Exception e)
    {
        var lines = e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? e.GetType().Name : string.Join("; ", lines.Distinct().Take(4));
    }
}
