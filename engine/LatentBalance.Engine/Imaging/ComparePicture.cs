using NetVips;

namespace LatentBalance.Engine.Imaging;

public sealed class ComparePictureOptions
{
    /// <summary>Both halves are scaled down (never up) to at most this height.</summary>
    public int MaxHeight { get; init; } = 1024;
    public int Gap { get; init; } = 16;
    public bool Labels { get; init; } = true;
    public int JpegQuality { get; init; } = 90;
    public static ComparePictureOptions Default { get; } = new();
}

/// <summary>Writes a before/after side-by-side picture (8-bit sRGB) for quick visual checks.</summary>
public static class ComparePicture
{
    static readonly double[] Background = [40, 40, 40];

    public static void Write(string beforePath, string afterPath, string outputPath, ComparePictureOptions? options = null)
    {
        options ??= ComparePictureOptions.Default;
        var format = OutputFormats.FromPath(outputPath ?? "");
        var full = OutputFiles.Check(outputPath!, beforePath, "the comparison", image: true, overwrite: true);
        if (OutputFiles.SameFile(full, afterPath))
            throw new ImageOutputException(outputPath!, FileErrorKind.InvalidPath, "it is the 'after' photo itself; refusing to overwrite it");

        var before = PhotoReader.Open(beforePath);
        var after = PhotoReader.Open(afterPath);
        using var left = Half(before, options, "before");
        using var right = Half(after, options, "after");
        int h = Math.Max(left.Height, right.Height);
        using var canvas = Image.Black(left.Width + options.Gap + right.Width, h, bands: 3).Linear([1, 1, 1], Background)
            .Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
        using var withLeft = canvas.Insert(left, 0, (h - left.Height) / 2);
        using var both = withLeft.Insert(right, left.Width + options.Gap, (h - right.Height) / 2);
        OutputFiles.Write(full, temp =>
        {
            try
            {
                switch (format)
                {
                    case OutputFormat.Jpeg: both.Jpegsave(temp, q: options.JpegQuality, keep: Enums.ForeignKeep.None); break;
                    case OutputFormat.Png: both.Pngsave(temp, keep: Enums.ForeignKeep.None); break;
                    case OutputFormat.Tiff: both.Tiffsave(temp, keep: Enums.ForeignKeep.None); break;
                    case OutputFormat.Webp: both.Webpsave(temp, q: options.JpegQuality, keep: Enums.ForeignKeep.None); break;
                }
            }
            catch (VipsException e)
            {
                throw new ImageOutputException(outputPath!, "encoding failed: " + VipsErrors.Describe(e), e);
            }
        });
    }

    /// <summary>One side: upright, sRGB, 8-bit, alpha flattened on the background, optionally labelled.</summary>
    static Image Half(SourceImage source, ComparePictureOptions options, string label)
    {
        try
        {
            using var thumb = Image.Thumbnail(source.FilePath, options.MaxHeight * 8, height: options.MaxHeight,
                size: Enums.Size.Down, failOn: source.Options.FailOn);
            using var working = source.ToWorkingSpace(thumb);
            using var eight = working.Format switch
            {
                Enums.BandFormat.Uchar => working.Copy(),
                Enums.BandFormat.Ushort => working.Cast(Enums.BandFormat.Uchar, shift: true),
                _ => working.Linear([255], [0.5]).Cast(Enums.BandFormat.Uchar),
            };
            using var flat = eight.Bands == 4 ? eight.Flatten(background: Background) : eight.Copy();
            using var rgb = flat.Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
            return options.Labels ? Label(rgb, label) : rgb.Copy();
        }
        catch (VipsException e)
        {
            throw new ImageInputException(source.FilePath, "truncated or corrupt image data: " + VipsErrors.Describe(e), e);
        }
    }

    /// <summary>Draws the label in the top-left corner on a dark box; leaves the image as is when no font renders.</summary>
    static Image Label(Image rgb, string text)
    {
        try
        {
            int dpi = Math.Max(36, rgb.Height / 8);
            using var mask = Image.Text(text, dpi: dpi);
            if (mask.Width + 12 > rgb.Width || mask.Height + 12 > rgb.Height) return rgb.Copy();
            using var box = Image.Black(mask.Width + 12, mask.Height + 8, bands: 3).Linear([1, 1, 1], Background).Cast(Enums.BandFormat.Uchar);
            using var white = box.NewFromImage(240, 240, 240);
            using var glyphs = mask.Embed(6, 4, box.Width, box.Height);
            using var labelled = glyphs.Ifthenelse(white, box, blend: true);
            return rgb.Insert(labelled, 0, 0);
        }
        catch (VipsException)
        {
            return rgb.Copy();
        }
    }
}
