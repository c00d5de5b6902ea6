namespace LatentBalance.Engine.Imaging;

/// <summary>Output file formats, chosen from the output extension.</summary>
public enum OutputFormat { Jpeg, Png, Tiff, Webp }

public static class OutputFormats
{
    public const string Supported = ".jpg, .jpeg, .png, .tif, .tiff, .webp";

    public static OutputFormat FromPath(string path) =>
        TryFromPath(path) ?? throw new ImageOutputException(path, FileErrorKind.InvalidPath,
            $"unsupported output extension '{Path.GetExtension(path)}' (use {Supported})");

    public static OutputFormat? TryFromPath(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".jpg" or ".jpeg" => OutputFormat.Jpeg,
        ".png" => OutputFormat.Png,
        ".tif" or ".tiff" => OutputFormat.Tiff,
        ".webp" => OutputFormat.Webp,
        _ => null,
    };

    /// <summary>True where the format stores 16-bit samples (else 16-bit work is saved as 8-bit).</summary>
    public static bool Holds16Bit(this OutputFormat f) => f is OutputFormat.Png or OutputFormat.Tiff;

    public static bool HoldsFloat(this OutputFormat f) => f == OutputFormat.Tiff;

    public static bool HoldsCmyk(this OutputFormat f) => f is OutputFormat.Jpeg or OutputFormat.Tiff;
}
