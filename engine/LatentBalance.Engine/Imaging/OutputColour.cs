using NetVips;

namespace LatentBalance.Engine.Imaging;

/// <summary>A save-ready image plus temporary files (ICC profiles) to delete after saving.</summary>
internal sealed class PreparedOutput(Image image, List<string> tempFiles) : IDisposable
{
    public Image Image { get; } = image;

    public void Dispose()
    {
        Image.Dispose();
        foreach (var f in tempFiles)
            try { File.Delete(f); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>
/// Turns a transformed working-space image (sRGB, 3-4 bands) back into the photo's own encoding for
/// saving: its ICC profile (CMYK back to CMYK where the format holds it), grey back to grey, the bit
/// depth the format allows, and its metadata with orientation reset to 1.
/// </summary>
internal static class OutputColour
{
    public static PreparedOutput Prepare(SourceImage source, Image transformed, OutputFormat format)
    {
        var temps = new List<string>();
        try
        {
            var (image, icc) = Convert(source, transformed, format, temps);
            using (image)
            {
                var final = image.Mutate(m =>
                {
                    foreach (var item in source.Metadata)
                        if (item.Name != "icc-profile-data") m.Set(item.GType, item.Name, item.Value);
                    m.Set(GValue.GIntType, "orientation", 1);
                    if (icc != null) m.Set(GValue.BlobType, "icc-profile-data", icc);
                    else m.Remove("icc-profile-data");
                });
                return new PreparedOutput(final, temps);
            }
        }
        catch
        {
            new PreparedOutput(Image.Black(1, 1), temps).Dispose();
            throw;
        }
    }

    /// <summary>Returns the converted image and the ICC profile to embed (null: none).</summary>
    static (Image, byte[]?) Convert(SourceImage s, Image transformed, OutputFormat format, List<string> temps)
    {
        var workingInterp = transformed.Format == Enums.BandFormat.Ushort ? Enums.Interpretation.Rgb16 : Enums.Interpretation.Srgb;
        using var im = transformed.Copy(interpretation: workingInterp, xres: s.Xres, yres: s.Yres);
        int depth = s.FileFormat == Enums.BandFormat.Ushort ? 16 : 8;
        byte[]? icc = s.Profile?.Data;
        Image converted;
        switch (s.ColourKind)
        {
            case PhotoColourKind.Cmyk when format.HoldsCmyk():
            {
                string profile = "cmyk";
                if (s.Profile?.IsCmyk == true) { profile = s.Profile.WriteTempFile(); temps.Add(profile); }
                // an untagged CMYK photo was read through libvips' built-in CMYK profile and goes back
                // through it, and stays untagged: embedding that profile added about 1 MB to every file
                else icc = null;
                converted = im.IccTransform(profile, intent: Enums.Intent.Relative, embedded: false, inputProfile: "srgb", depth: depth);
                break;
            }
            case PhotoColourKind.Cmyk:
                converted = im.Copy(); // PNG/WebP cannot hold CMYK: saved as sRGB
                icc = null;
                break;
            case PhotoColourKind.Rgb when s.ConvertsThroughIcc:
            {
                var profile = s.Profile!.WriteTempFile();
                temps.Add(profile);
                converted = im.IccTransform(profile, intent: Enums.Intent.Relative, embedded: false, inputProfile: "srgb", depth: depth);
                break;
            }
            case PhotoColourKind.Grey:
                if (im.Format == Enums.BandFormat.Float)
                {
                    using var g = im[0];
                    using var grey = s.HasAlpha ? g.Bandjoin(im[3]) : g.Copy();
                    converted = grey.Copy(interpretation: Enums.Interpretation.Bw);
                }
                else converted = im.Colourspace(im.Format == Enums.BandFormat.Ushort ? Enums.Interpretation.Grey16 : Enums.Interpretation.Bw);
                if (s.Profile != null && !s.Profile.IsGrey) icc = null;
                break;
            default:
                converted = im.Copy();
                break;
        }
        using (converted)
        {
            if (s.FileFormat == Enums.BandFormat.Uchar && converted.Format == Enums.BandFormat.Ushort)
            {
                // 8-bit photo worked on in 16 bits (ICC conversion): back to 8 bits
                using var eight = converted.Cast(Enums.BandFormat.Uchar, shift: true);
                using var tagged = eight.Copy(interpretation: converted.Interpretation == Enums.Interpretation.Rgb16 ? Enums.Interpretation.Srgb
                    : converted.Interpretation == Enums.Interpretation.Grey16 ? Enums.Interpretation.Bw : converted.Interpretation);
                return (ToFormatDepth(tagged, format), icc);
            }
            return (ToFormatDepth(converted, format), icc);
        }
    }

    /// <summary>Keeps the sample format where the output format holds it, else the nearest it does.</summary>
    static Image ToFormatDepth(Image im, OutputFormat format)
    {
        bool grey = im.Bands <= 2 && im.Interpretation != Enums.Interpretation.Cmyk;
        bool cmyk = im.Interpretation == Enums.Interpretation.Cmyk;
        Enums.Interpretation Interp8() => cmyk ? Enums.Interpretation.Cmyk : grey ? Enums.Interpretation.Bw : Enums.Interpretation.Srgb;
        Enums.Interpretation Interp16() => cmyk ? Enums.Interpretation.Cmyk : grey ? Enums.Interpretation.Grey16 : Enums.Interpretation.Rgb16;
        switch (im.Format)
        {
            case Enums.BandFormat.Ushort when !format.Holds16Bit():
            {
                using var c = im.Cast(Enums.BandFormat.Uchar, shift: true);
                return c.Copy(interpretation: Interp8());
            }
            case Enums.BandFormat.Float when !format.HoldsFloat():
            {
                double scale = format.Holds16Bit() ? 65535 : 255;
                using var scaled = im.Linear([scale], [0.5]);
                using var c = scaled.Cast(format.Holds16Bit() ? Enums.BandFormat.Ushort : Enums.BandFormat.Uchar);
                return c.Copy(interpretation: format.Holds16Bit() ? Interp16() : Interp8());
            }
            default:
                return im.Copy();
        }
    }
}
