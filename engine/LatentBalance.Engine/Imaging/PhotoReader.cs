using NetVips;

namespace LatentBalance.Engine.Imaging;

/// <summary>
/// Opens photos (JPEG, PNG, TIFF, WebP, HEIF, GIF: whatever this libvips build loads) and validates
/// them up front, so that every later failure about the input is an <see cref="ImageInputException"/>
/// naming the file.
/// </summary>
public static class PhotoReader
{
    /// <summary>Metadata fields carried from input to output (prefix match for those ending in '-').</summary>
    static readonly string[] KeptFields = ["icc-profile-data", "exif-data", "xmp-data", "iptc-data", "exif-ifd", "png-comment-", "resolution-unit"];

    public static SourceImage Open(string path, PhotoReaderOptions? options = null)
    {
        options ??= PhotoReaderOptions.Default;
        if (string.IsNullOrWhiteSpace(path)) throw new ImageInputException(path ?? "", FileErrorKind.InvalidPath, "no file name given");
        var kind = InputPath.Inspect(path);
        if (kind != InputPathKind.RegularFile)
            throw new ImageInputException(path, kind switch
            {
                InputPathKind.Missing or InputPathKind.DanglingLink => FileErrorKind.NotFound,
                InputPathKind.Unreadable => FileErrorKind.AccessFailed,
                _ => FileErrorKind.InvalidPath,
            }, InputPath.Describe(kind, path)!);
        try { using var probe = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // libvips would take an unreadable file for "not an image"
            throw new ImageInputException(path, FileErrorKind.AccessFailed, "cannot open the file: " + e.Message, e);
        }

        string? loader;
        try { loader = Image.FindLoad(path); }
        catch (Exception e) when (e is VipsException or IOException or UnauthorizedAccessException)
        {
            throw new ImageInputException(path, e is VipsException ? FileErrorKind.BadImage : FileErrorKind.AccessFailed,
                "cannot read the file: " + VipsErrors.Describe(e), e);
        }
        if (loader == null)
        {
            VipsErrors.Clear(); // "... is not a known file format" stays in the buffer otherwise
            throw new ImageInputException(path, new FileInfo(path).Length == 0
                ? "the file is empty"
                : "not an image in a format this program reads (JPEG, PNG, TIFF, WebP, ...); the contents are not recognised whatever the extension");
        }

        SourceImage source;
        try
        {
            using var header = Image.NewFromFile(path, access: Enums.Access.Sequential, failOn: options.FailOn, revalidate: true);
            source = Describe(path, loader, header, options);
            if (loader.StartsWith("VipsForeignLoadHeif", StringComparison.Ordinal) && UndecodableHeif(path, header, options) is { } heif)
                throw new ImageInputException(path, FileErrorKind.BadImage, heif);
        }
        catch (VipsException e)
        {
            throw new ImageInputException(path, "corrupt or unreadable image header: " + VipsErrors.Describe(e), e);
        }

        if (options.VerifyPixels)
        {
            // decode every pixel once (cheaply: no working-space conversion) so truncation shows now
            try
            {
                using var full = Image.NewFromFile(path, access: Enums.Access.Sequential, failOn: options.FailOn, revalidate: true);
                _ = full.Avg();
            }
            catch (VipsException e)
            {
                throw new ImageInputException(path, "truncated or corrupt image data: " + VipsErrors.Describe(e), e);
            }
        }
        return source;
    }

    /// <summary>Why lcms cannot convert into <paramref name="profile"/> (null: it can). The output goes
    /// back through the photo's own profile, where libvips reports an unusable one (on import it quietly
    /// falls back to sRGB), and the failure was blamed on the output file; so it is tried here, at open.</summary>
    static string? UnusableProfile(IccProfileInfo profile)
    {
        var file = profile.WriteTempFile();
        try
        {
            using var black = Image.Black(1, 1, bands: 3);
            using var probe = black.Cast(Enums.BandFormat.Uchar).Copy(interpretation: Enums.Interpretation.Srgb);
            using var exported = probe.IccTransform(file, inputProfile: "srgb", intent: Enums.Intent.Relative, embedded: false);
            _ = exported.Avg();
            return null;
        }
        catch (VipsException e) { return VipsErrors.Describe(e); }
        finally { try { File.Delete(file); } catch (IOException) { } }
    }

    /// <summary>Null when the HEIF/AVIF file decodes; otherwise why not. The libvips shipped with the
    /// program reads AVIF (AV1) but has no HEVC decoder, so a valid HEIC fails to decode, which was
    /// reported as "truncated or corrupt". One small region is decoded to find out.</summary>
    static string? UndecodableHeif(string path, Image header, PhotoReaderOptions options)
    {
        string compression = header.GetTypeOf("heif-compression") != IntPtr.Zero && header.Get("heif-compression") is string c ? c : "unknown";
        try
        {
            using var im = Image.NewFromFile(path, access: Enums.Access.Random, failOn: options.FailOn);
            using var corner = im.Crop(0, 0, Math.Min(16, im.Width), Math.Min(16, im.Height));
            _ = corner.Avg();
            return null;
        }
        catch (VipsException e)
        {
            return compression == "hevc"
                ? "a HEIC (HEIF with HEVC compression): this build of libvips has no HEVC decoder (AVIF is read); convert it to JPEG or TIFF first"
                : $"a HEIF image ({compression} compression) that cannot be decoded: " + VipsErrors.Describe(e);
        }
    }

    static SourceImage Describe(string path, string loader, Image im, PhotoReaderOptions options)
    {
        int w = im.Width, h = im.Height;
        if (w <= 0 || h <= 0) throw new ImageInputException(path, $"the image has zero size ({w}x{h})");
        double mp = (double)w * h / 1e6;
        if (mp > options.MaxMegapixels)
            throw new ImageInputException(path, $"the image is {w}x{h} = {mp:F0} megapixels, above the limit of {options.MaxMegapixels:F0} megapixels");

        var format = im.Format switch
        {
            Enums.BandFormat.Uchar => Enums.BandFormat.Uchar,
            Enums.BandFormat.Ushort => Enums.BandFormat.Ushort,
            Enums.BandFormat.Float or Enums.BandFormat.Double => Enums.BandFormat.Float,
            var f => throw new ImageInputException(path, $"unsupported sample format '{f}' (8-bit, 16-bit and float images are supported)"),
        };

        byte[]? iccData = im.GetTypeOf("icc-profile-data") != IntPtr.Zero ? im.Get("icc-profile-data") as byte[] : null;
        var profile = IccProfileInfo.TryParse(iccData);

        var interp = im.Interpretation;
        int bands = im.Bands;
        PhotoColourKind kind;
        bool alpha;
        if (interp == Enums.Interpretation.Cmyk)
        {
            if (bands is not (4 or 5)) throw new ImageInputException(path, $"CMYK image with {bands} bands is not supported");
            if (format == Enums.BandFormat.Float) throw new ImageInputException(path, "float CMYK images are not supported");
            kind = PhotoColourKind.Cmyk;
            alpha = bands == 5;
        }
        else if (interp is Enums.Interpretation.Srgb or Enums.Interpretation.Rgb or Enums.Interpretation.Rgb16
                 or Enums.Interpretation.Scrgb or Enums.Interpretation.Bw or Enums.Interpretation.Grey16
                 or Enums.Interpretation.Multiband)
        {
            // a file tagged grey (TIFF photometric min-is-black/white or palette) with 3 or 4 samples: libvips'
            // thumbnail turns its first band into RGB and keeps the rest (5 or 6 bands) while the full-size
            // path would read the samples as RGB(A), so the tile and the photo would disagree
            if (interp is Enums.Interpretation.Bw or Enums.Interpretation.Grey16 && bands > 2)
                throw new ImageInputException(path, $"a grey image with {bands} bands is not supported (grey images have 1 band, or 2 with alpha)");
            switch (bands)
            {
                case 1: kind = PhotoColourKind.Grey; alpha = false; break;
                case 2: kind = PhotoColourKind.Grey; alpha = true; break;
                case 3: kind = PhotoColourKind.Rgb; alpha = false; break;
                case 4: kind = PhotoColourKind.Rgb; alpha = true; break;
                default: throw new ImageInputException(path, $"unsupported band layout: {bands} bands (1-2 grey, 3-4 RGB/RGBA, 4-5 CMYK are supported)");
            }
        }
        else
        {
            throw new ImageInputException(path, $"unsupported colour space '{interp}' (RGB, grey and CMYK images are supported)");
        }

        int orientation = 1;
        if (im.GetTypeOf("orientation") != IntPtr.Zero && im.Get("orientation") is int o && o is >= 1 and <= 8) orientation = o;

        var kept = new List<MetadataItem>();
        foreach (var name in im.GetFields())
        {
            if (!KeptFields.Any(k => k.EndsWith('-') || k == "exif-ifd" ? name.StartsWith(k, StringComparison.Ordinal) : name == k)) continue;
            var gtype = im.GetTypeOf(name);
            object? value;
            try { value = im.Get(name); } catch (Exception) { continue; } // a type NetVips cannot convert: skip
            if (value != null) kept.Add(new MetadataItem(name, gtype, value));
        }

        int pages = im.GetTypeOf("n-pages") != IntPtr.Zero && im.Get("n-pages") is int n && n > 1 ? n : 1;

        var source = new SourceImage(path, loader, w, h, orientation, kind, format, alpha, profile, kept, options)
        {
            Xres = im.Xres,
            Yres = im.Yres,
            Pages = pages,
        };
        if (source.ConvertsThroughIcc && profile != null && UnusableProfile(profile) is { } why)
            throw new ImageInputException(path, FileErrorKind.BadImage, $"its embedded ICC profile ({profile.Data.Length} bytes) cannot be used: {why}");
        return source;
    }
}
