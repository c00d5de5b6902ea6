using NetVips;

namespace LatentBalance.Engine.Imaging;

/// <summary>How the colour of the stored pixels is encoded.</summary>
public enum PhotoColourKind
{
    /// <summary>RGB (with an sRGB, other RGB, or no ICC profile).</summary>
    Rgb,
    /// <summary>One grey band. Processed as sRGB, saved back as grey.</summary>
    Grey,
    /// <summary>CMYK, converted through its ICC profile (or libvips' built-in CMYK profile) to sRGB.</summary>
    Cmyk,
}

/// <summary>
/// A validated photo: its header facts and the recipe to turn it into the working space every
/// stage sees: upright (EXIF orientation applied), sRGB, 3 bands plus alpha if it had one,
/// and a sample format of uchar (8-bit sRGB input), ushort (16-bit input, or any input that needed an
/// ICC conversion, so that conversion loses nothing) or float (float input, values as stored).
/// Pixels are decoded lazily: each <see cref="OpenWorking"/> call starts a fresh libvips pipeline.
/// </summary>
public sealed class SourceImage
{
    internal SourceImage(string path, string loader, int storedWidth, int storedHeight, int orientation,
        PhotoColourKind kind, Enums.BandFormat fileFormat, bool hasAlpha, IccProfileInfo? profile,
        IReadOnlyList<MetadataItem> metadata, PhotoReaderOptions options)
    {
        FilePath = path;
        Loader = loader;
        StoredWidth = storedWidth;
        StoredHeight = storedHeight;
        Orientation = orientation;
        ColourKind = kind;
        FileFormat = fileFormat;
        HasAlpha = hasAlpha;
        Profile = profile;
        Metadata = metadata;
        Options = options;
    }

    public string FilePath { get; }

    /// <summary>The libvips loader, e.g. "VipsForeignLoadJpegFile".</summary>
    public string Loader { get; }

    public int StoredWidth { get; }
    public int StoredHeight { get; }

    /// <summary>EXIF orientation as stored (1..8; 1 = upright). Outputs are written upright with orientation 1.</summary>
    public int Orientation { get; }

    bool SwapsAxes => Orientation is >= 5 and <= 8;

    /// <summary>Width once upright.</summary>
    public int Width => SwapsAxes ? StoredHeight : StoredWidth;

    /// <summary>Height once upright.</summary>
    public int Height => SwapsAxes ? StoredWidth : StoredHeight;

    public PhotoColourKind ColourKind { get; }

    /// <summary>The sample format in the file: UChar, UShort or Float.</summary>
    public Enums.BandFormat FileFormat { get; }

    public bool HasAlpha { get; }

    /// <summary>The embedded ICC profile, if any.</summary>
    public IccProfileInfo? Profile { get; }

    /// <summary>True when the pixels go through an ICC transform into sRGB and back at save.</summary>
    public bool ConvertsThroughIcc =>
        ColourKind == PhotoColourKind.Cmyk ||
        (ColourKind == PhotoColourKind.Rgb && FileFormat != Enums.BandFormat.Float && Profile is { IsRgb: true, IsSrgb: false });

    /// <summary>Sample format of the working space, i.e. what an <see cref="IPixelTransform"/> receives.</summary>
    public Enums.BandFormat WorkingFormat =>
        FileFormat == Enums.BandFormat.Float ? Enums.BandFormat.Float
        : ConvertsThroughIcc || FileFormat == Enums.BandFormat.Ushort ? Enums.BandFormat.Ushort
        : Enums.BandFormat.Uchar;

    /// <summary>3 (RGB) or 4 (RGBA) bands in the working space.</summary>
    public int WorkingBands => HasAlpha ? 4 : 3;

    /// <summary>Pages (multi-page TIFF) or frames (animated GIF, WebP) in the file; only the first is read.</summary>
    public int Pages { get; init; } = 1;

    /// <summary>What the user should know about how this photo is read, one line each (e.g. that only
    /// the first of several pages is balanced).</summary>
    public IReadOnlyList<string> Notes => Pages > 1
        ? [$"the file holds {Pages} pages or frames; only the first is balanced and written"]
        : [];

    /// <summary>Metadata carried to the output (ICC, EXIF, XMP, IPTC, ...).</summary>
    internal IReadOnlyList<MetadataItem> Metadata { get; }

    internal PhotoReaderOptions Options { get; }

    /// <summary>Resolution in pixels per millimetre, as libvips keeps it.</summary>
    internal double Xres { get; init; } = 1;
    internal double Yres { get; init; } = 1;

    /// <summary>
    /// Starts a new pipeline producing the working-space image (upright, sRGB, see the class summary).
    /// With <paramref name="sequential"/> the file is streamed top to bottom (read it once, in order);
    /// rotated photos are always loaded into memory since rotation needs random access. Caller disposes.
    /// </summary>
    public Image OpenWorking(bool sequential = true)
    {
        try
        {
            using var upright = OpenUpright(sequential);
            return ToWorkingSpace(upright);
        }
        catch (VipsException e)
        {
            throw new ImageInputException(FilePath, VipsErrors.Describe(e), e);
        }
    }

    /// <summary>Largest photo <see cref="StartDecoding"/> keeps in memory (decoded bytes); a larger one is streamed from the file.</summary>
    public const long MaxDecodedBytes = 1L << 30;

    Task<Image?>? _decoding;

    /// <summary>
    /// Starts decoding the whole photo (upright, stored encoding) into memory on another thread, so that the decode
    /// overlaps the work that comes before the write (the tile's networks and fit); <see cref="OpenUpright"/> then
    /// reads the pixels from memory. A photo larger than <see cref="MaxDecodedBytes"/> is left to stream from the file,
    /// and a decode that fails is left to fail again, with its usual error, where the file is read.
    /// Call <see cref="ReleaseDecoded"/> when done with the photo.
    /// </summary>
    public void StartDecoding()
    {
        int bytesPerSample = FileFormat == Enums.BandFormat.Uchar ? 1 : FileFormat == Enums.BandFormat.Ushort ? 2 : 4;
        long bytes = (long)StoredWidth * StoredHeight * (WorkingBands + 1) * bytesPerSample;
        if (_decoding != null || bytes > MaxDecodedBytes) return;
        _decoding = Task.Run(() =>
        {
            try
            {
                using var upright = OpenUprightFromFile(sequential: true);
                return upright.CopyMemory();
            }
            catch (Exception e) when (e is VipsException or IOException) { return null; }
        });
    }

    /// <summary>True once <see cref="StartDecoding"/> holds the whole photo in memory (waits for a decode still running).</summary>
    public bool IsDecodedInMemory => _decoding is { } d && d.Result is not null;

    /// <summary>Frees the photo <see cref="StartDecoding"/> held in memory (waiting for a decode still running).</summary>
    public void ReleaseDecoded()
    {
        var decoding = Interlocked.Exchange(ref _decoding, null);
        try { decoding?.Result?.Dispose(); }
        catch (AggregateException) { }
    }

    /// <summary>The decoded photo, upright, still in its stored colour encoding: from memory when
    /// <see cref="StartDecoding"/> holds it, else from the file. Caller disposes.</summary>
    internal Image OpenUpright(bool sequential)
    {
        if (_decoding is { } decoding && decoding.Result is { } decoded) return decoded.Copy();
        return OpenUprightFromFile(sequential);
    }

    Image OpenUprightFromFile(bool sequential)
    {
        bool seq = sequential && Orientation is 1 or 2;
        using var loaded = Image.NewFromFile(FilePath, memory: seq ? null : true,
            access: seq ? Enums.Access.Sequential : Enums.Access.Random, failOn: Options.FailOn, revalidate: true);
        return Orientation == 1 ? loaded.Copy() : loaded.Autorot();
    }

    /// <summary>False when the stored pixels already are the working space (RGB/RGBA, 8/16-bit, no ICC conversion).</summary>
    internal bool NeedsWorkingConversion(Image upright) =>
        ColourKind != PhotoColourKind.Rgb || ConvertsThroughIcc || upright.Format != WorkingFormat || upright.Bands != WorkingBands;

    /// <summary>Converts an upright image of this photo (full size or a thumbnail) to the working space.</summary>
    internal Image ToWorkingSpace(Image upright)
    {
        using var typed = upright.Format == Enums.BandFormat.Double ? upright.Cast(Enums.BandFormat.Float) : upright.Copy();
        bool isFloat = typed.Format == Enums.BandFormat.Float;

        if (ColourKind == PhotoColourKind.Cmyk && typed.Interpretation == Enums.Interpretation.Cmyk)
        {
            // embedded profile when there is one, libvips' built-in CMYK profile otherwise
            return typed.IccTransform("srgb", intent: Enums.Intent.Relative, embedded: Profile?.IsCmyk == true,
                inputProfile: "cmyk", depth: 16).Copy(interpretation: Enums.Interpretation.Rgb16);
        }
        if (ColourKind == PhotoColourKind.Grey && typed.Bands <= 2)
        {
            if (isFloat)
            {
                using var g = typed[0];
                using var rgb = HasAlpha ? g.Bandjoin(g, g, typed[1]) : g.Bandjoin(g, g);
                return rgb.Copy(interpretation: Enums.Interpretation.Srgb);
            }
            return typed.Format == Enums.BandFormat.Ushort
                ? typed.Copy(interpretation: Enums.Interpretation.Grey16).Colourspace(Enums.Interpretation.Rgb16)
                : typed.Copy(interpretation: Enums.Interpretation.Bw).Colourspace(Enums.Interpretation.Srgb);
        }
        if (!isFloat && ColourKind == PhotoColourKind.Rgb && IsTaggedNonSrgb(typed))
            return typed.IccTransform("srgb", intent: Enums.Intent.Relative, embedded: true, depth: 16)
                .Copy(interpretation: Enums.Interpretation.Rgb16);
        if (WorkingFormat == Enums.BandFormat.Ushort && typed.Format == Enums.BandFormat.Uchar)
            return typed.Colourspace(Enums.Interpretation.Rgb16); // e.g. a thumbnail libvips already made sRGB
        var interp = typed.Format switch
        {
            Enums.BandFormat.Ushort => Enums.Interpretation.Rgb16,
            Enums.BandFormat.Float => typed.Interpretation == Enums.Interpretation.Scrgb ? Enums.Interpretation.Scrgb : Enums.Interpretation.Srgb,
            _ => Enums.Interpretation.Srgb,
        };
        return typed.Copy(interpretation: interp);
    }

    /// <summary>True when the image still carries an RGB profile that is not sRGB (so its pixels are in that space).</summary>
    static bool IsTaggedNonSrgb(Image im)
    {
        if (im.GetTypeOf("icc-profile-data") == IntPtr.Zero) return false;
        var info = IccProfileInfo.TryParse(im.Get("icc-profile-data") as byte[]);
        return info is { IsRgb: true, IsSrgb: false };
    }
}

/// <summary>One metadata field copied from the input to the output.</summary>
internal sealed record MetadataItem(string Name, IntPtr GType, object Value);
