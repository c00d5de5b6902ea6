using NetVips;

namespace LatentBalance.Engine.Imaging;

public enum TilePadding
{
    /// <summary>Repeat the photo's edge pixels outwards (no hard border for the encoder to see).</summary>
    EdgeReplicate,
    /// <summary>Fill with 0.5 grey.</summary>
    MidGrey,
}

public sealed class ThumbnailFitOptions
{
    public int Size { get; init; } = 224;
    public TilePadding Padding { get; init; } = TilePadding.EdgeReplicate;

    /// <summary>Make the tile of a JPEG or WebP straight from the file with libvips' shrink-on-load
    /// (JPEG DCT scaling): much faster than decoding the full image first. Formats that can hold more
    /// than 8 bits always take the full decode, so bit-depth twins get the same tile.</summary>
    public bool ShrinkOnLoad { get; init; } = true;

    /// <summary>Pixels with alpha below this fraction are left out of the mask.</summary>
    public double AlphaThreshold { get; init; } = 0.5;

    public static ThumbnailFitOptions Default { get; } = new();
}

/// <summary>Makes the model's <see cref="ModelTile"/> from a photo: the whole frame, aspect kept, padded.</summary>
public static class ThumbnailFit
{
    /// <summary>Tile of a photo in its working space (upright, sRGB). Reads the file again (shrink-on-load
    /// by default), so this also catches truncated data before any model work.</summary>
    public static ModelTile FromSource(SourceImage source, ThumbnailFitOptions? options = null)
    {
        options ??= ThumbnailFitOptions.Default;
        try
        {
            // Shrink-on-load (JPEG DCT scaling, WebP) only for formats that hold 8-bit samples alone.
            // Everything else takes one path, the float resize of FromImage, so an 8-bit photo and its
            // 16-bit and float twins give the same tile (the thumbnail rounded 16-bit tiles to 8 bits and
            // resized with other kernels than the float path: tiles 1-24/255 apart, LUTs up to 7/255); and
            // float files are taken as stored (sRGB-encoded values, as GIMP's R'G'B' float exports them),
            // where libvips' thumbnail would see their scRGB tag and gamma-encode them a second time
            if (options.ShrinkOnLoad && HoldsOnly8Bit(source))
            {
                using var thumb = Image.Thumbnail(source.FilePath, options.Size, height: options.Size, failOn: source.Options.FailOn);
                using var working = source.ToWorkingSpace(thumb);
                return Opaque(FromImage(working, options), source);
            }
            using var full = source.OpenWorking(sequential: true);
            return Opaque(FromImage(full, options), source);
        }
        catch (VipsException e)
        {
            throw new ImageInputException(source.FilePath, "truncated or corrupt image data: " + VipsErrors.Describe(e), e);
        }
    }

    static bool HoldsOnly8Bit(SourceImage source) =>
        source.FileFormat == Enums.BandFormat.Uchar
        && (source.Loader.StartsWith("VipsForeignLoadJpeg", StringComparison.Ordinal) || source.Loader.StartsWith("VipsForeignLoadWebp", StringComparison.Ordinal));

    /// <summary>A fully transparent photo has no colour to balance: said here, by name, rather than as an
    /// index error deep in the fit.</summary>
    static ModelTile Opaque(ModelTile tile, SourceImage source) => tile.ValidCount > 0 ? tile
        : throw new ImageInputException(source.FilePath, FileErrorKind.BadImage,
            "every pixel is (nearly) transparent: there is no colour to balance");

    /// <summary>Tile of an image already in the working space (RGB or RGBA; uchar, ushort or float in [0,1]).</summary>
    public static ModelTile FromImage(Image working, ThumbnailFitOptions? options = null)
    {
        options ??= ThumbnailFitOptions.Default;
        int s = options.Size;
        if (working.Bands is not (3 or 4)) throw new ArgumentException($"expected an RGB or RGBA working image, got {working.Bands} bands");

        double max = working.Format switch
        {
            Enums.BandFormat.Uchar => 255,
            Enums.BandFormat.Ushort => 65535,
            _ => 1,
        };
        int w = working.Width, h = working.Height;
        double scale = Math.Min((double)s / w, (double)s / h);
        int tw = Math.Clamp((int)Math.Round(w * scale), 1, s), th = Math.Clamp((int)Math.Round(h * scale), 1, s);

        using var asFloat = working.Format == Enums.BandFormat.Float ? FiniteSamples(working) : working.Cast(Enums.BandFormat.Float);
        using var unit = asFloat.Linear([1 / max], [0]);
        using var small = tw == w && th == h ? unit.Copy() : unit.Resize((double)tw / w, vscale: (double)th / h, kernel: Enums.Kernel.Lanczos3);
        // resize can round a size by one pixel: make it exactly tw x th
        using var exact = small.Width == tw && small.Height == th ? small.Copy()
            : small.Embed(0, 0, tw, th, extend: Enums.Extend.Copy);
        using var clampedLazy = exact.Clamp(0, 1);
        using var clamped = clampedLazy.CopyMemory(); // evaluate once: the source may be readable only once

        int x0 = (s - tw) / 2, y0 = (s - th) / 2;
        using var rgb = clamped.ExtractBand(0, n: 3);
        using var padded = options.Padding == TilePadding.EdgeReplicate
            ? rgb.Embed(x0, y0, s, s, extend: Enums.Extend.Copy)
            : rgb.Embed(x0, y0, s, s, extend: Enums.Extend.Background, background: [0.5, 0.5, 0.5]);
        var hwc = padded.WriteToMemory<float>();
        var chw = new float[3 * s * s];
        for (int i = 0, n = s * s; i < n; i++)
        {
            chw[i] = hwc[3 * i];
            chw[n + i] = hwc[3 * i + 1];
            chw[2 * n + i] = hwc[3 * i + 2];
        }

        var mask = new bool[s * s];
        float[]? alpha = null;
        if (clamped.Bands == 4)
        {
            using var a = clamped[3];
            alpha = a.WriteToMemory<float>();
        }
        for (int y = 0; y < th; y++)
            for (int x = 0; x < tw; x++)
                mask[(y0 + y) * s + x0 + x] = alpha == null || alpha[y * tw + x] >= options.AlphaThreshold;
        return new ModelTile(s, chw, mask, x0, y0, tw, th);
    }

    /// <summary>A float photo with every non-finite sample replaced where it stands (NaN and -inf by 0,
    /// +inf by 1), before the resize: its kernel would spread one NaN over its neighbours, then the
    /// tile, the latent, the fitted map and the LUT would all be NaN and so would every output pixel.</summary>
    static Image FiniteSamples(Image im)
    {
        using var isNumber = im.Equal(im);                   // false only for NaN
        using var noNan = isNumber.Ifthenelse(im, 0.0);
        using var magnitude = noNan.Abs();
        using var isFinite = magnitude < double.PositiveInfinity;
        using var bounded = noNan.Clamp(min: 0, max: 1);
        return isFinite.Ifthenelse(noNan, bounded);
    }
}
